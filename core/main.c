/*
 * main.c: the hvmdm program: parse the command line, build the machine,
 * run it until shutdown.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
    fprintf(stderr, "hvmdm: not assembled yet\n");
    return 1;
}
