sub main( {
    say "unbalanced";
}
