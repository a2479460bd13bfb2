:- initialization(main).

% Grows a list until the memory limit; GNU Prolog's stacks are sized by env.
grow(N, [N|T]) :- N1 is N + 1, grow(N1, T).
main :- grow(0, _).
