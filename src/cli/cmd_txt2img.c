/* cmd_txt2img.c — `ldm txt2img`. */
#include "commands.h"
#include "txt2img_args.h"

ldm_status ldm_cmd_txt2img(int argc, char **argv)
{
    ldm_txt2img_args args;
    ldm_status st = ldm_txt2img_args_parse(argc, argv, &args);
    if (st == LDM_OK && !args.help)
        st = ldm_error(LDM_ERUNTIME, "ldm txt2img: image generation is not implemented yet");
    ldm_txt2img_args_free(&args);
    return st;
}
