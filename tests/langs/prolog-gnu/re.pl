:- initialization(main).

% GNU Prolog reports an uncaught error of an initialization goal as a warning
% and exits 0: a program must halt(1) itself to fail.
main :- catch(run, E, (write(user_error, E), nl(user_error), halt(1))).
run :- X is 1 // 0, write(X), nl.
