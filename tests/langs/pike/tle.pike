int main()
{
    int n = 0;
    while (1) n++;
}
