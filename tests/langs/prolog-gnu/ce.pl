:- initialization(main).

main :- write('unbalanced', nl.
