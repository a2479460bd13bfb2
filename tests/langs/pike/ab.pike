int main()
{
    array(int) v = (array(int)) (Stdio.stdin.gets() / " " - ({ "" }));
    write("%d\n", v[0] + v[1]);
    return 0;
}
