/* cmd_info.c — `ldm info --model DIR`. */
#include "commands.h"

ldm_status ldm_cmd_info(int argc, char **argv)
{
    return ldm_error(LDM_ERUNTIME, "ldm info: not implemented yet");
}
