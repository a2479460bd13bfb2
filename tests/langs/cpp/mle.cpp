#include <cstring>
#include <iostream>
#include <vector>

// 1 GiB in 1 MiB blocks, each written so that it is really used.
int main()
{
    std::vector<char *> blocks;
    for (int i = 0; i < 1024; i++) {
        char *p = new char[1 << 20];
        std::memset(p, i, 1 << 20);
        blocks.push_back(p);
    }
    std::cout << "allocated " << blocks.size() << " MiB\n";
}
