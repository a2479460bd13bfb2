void main()
{
    ulong n = 0;
    while (true)
    {
        import core.volatile : volatileStore;
        volatileStore(&n, n + 1);
    }
}
