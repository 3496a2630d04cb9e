#include <stdio.h>
int main(void) { puts("ldm"); return 0; }
