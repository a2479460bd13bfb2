int main()
{
    error("runtime error\n");
}
