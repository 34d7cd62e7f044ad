/* ccproxy-fcgi: placeholder until the worker lands. */
#include "config.h"

#include "common/banned.h"

int main(void)
{
    return 1;
}
