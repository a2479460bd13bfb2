// 1 GiB in 1 MiB strings, each distinct.
int main()
{
    array(string) blocks = ({});
    for (int i = 0; i < 1024; i++)
        blocks += ({ sprintf("%d", i) + "x" * 1048576 });
    write("%d\n", sizeof(blocks));
    return 0;
}
