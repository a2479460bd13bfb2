import std.stdio;

void main()
{
    throw new Exception("runtime error");
}
