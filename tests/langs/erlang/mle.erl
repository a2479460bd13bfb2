-module(main).
-export([main/0]).

%% 1 GiB in 1 MiB binaries, each distinct and fully written.
main() ->
    Blocks = [binary:copy(<<(I rem 256)>>, 1048576) || I <- lists:seq(1, 1024)],
    io:format("~w~n", [length(Blocks)]).
