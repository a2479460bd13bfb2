#include <stdio.h>

@interface Broken
- (void)f
@end

int main(void) { return 0 }
