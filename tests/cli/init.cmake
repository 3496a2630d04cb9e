# `ldm init`: random-weight model folders (src/cli/cmd_init.c). Bad-config
# folders are in tests/fixtures/init/.
set(LDM_INIT_FIX ${LDM_FIXTURES}/init)
add_test(NAME cli_init_help COMMAND $<TARGET_FILE:ldm> init --help)
set_tests_properties(cli_init_help PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "--config DIR.*--force")

# The real configuration's parameter counts (those torch reports for the real
# classes), computed from the model code's tensor lists without writing 6 GB.
add_test(NAME cli_init_dry_run_real
         COMMAND $<TARGET_FILE:ldm> init --config ${PROJECT_SOURCE_DIR}/models/ldm-text2im-large-256-config --dry-run)
set_tests_properties(cli_init_dry_run_real PROPERTIES LABELS cli
  PASS_REGULAR_EXPRESSION "bert +LDMBertModel +581994042 params.*tokenizer +BertTokenizer +synthetic vocab.txt of 30522 tokens.*unet +UNet2DConditionModel +872300484 params.*vqvae +AutoencoderKL +83653863 params.*total +1537948389 params")

# End to end on the tiny configuration (info, txt2img, determinism, synthetic
# vocab, --force, a full disk); see the script's header.
add_test(NAME cli_init_e2e
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/init_e2e.sh $<TARGET_FILE:ldm> ${LDM_FIXTURES}
                 ${CMAKE_CURRENT_BINARY_DIR}/init-e2e)
set_tests_properties(cli_init_e2e PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1")

# Bad inputs: exit 1, a message naming the flag, folder, file or key.
ldm_cli_test(cli_init_no_config CODE 1 NEEDLE "--config is required" COMMAND init -o x)
ldm_cli_test(cli_init_no_output CODE 1 NEEDLE "-o MODEL is required (or --dry-run)"
             COMMAND init --config ${LDM_FIXTURES}/tiny-ldm)
ldm_cli_test(cli_init_missing_config CODE 1 NEEDLE "--config /nonexistent/cfg: folder not found"
             COMMAND init --config /nonexistent/cfg -o x)
ldm_cli_test(cli_init_not_pipeline CODE 1 NEEDLE "no model_index.json in it"
             COMMAND init --config ${LDM_FIXTURES}/cli --dry-run)
ldm_cli_test(cli_init_bad_index CODE 1 NEEDLE "model_index.json: component \"unet\" must be [library, class]"
             COMMAND init --config ${LDM_INIT_FIX}/bad-index --dry-run)
ldm_cli_test(cli_init_no_folder CODE 1 NEEDLE "component \"unet\": folder ${LDM_INIT_FIX}/no-folder/unet not found"
             COMMAND init --config ${LDM_INIT_FIX}/no-folder --dry-run)
ldm_cli_test(cli_init_malformed_json CODE 1 NEEDLE "bad-json/vqvae/config.json: invalid JSON"
             COMMAND init --config ${LDM_INIT_FIX}/bad-json --dry-run)
ldm_cli_test(cli_init_bad_unet_key CODE 1 NEEDLE "bad-unet/unet/config.json: unsupported \"resnet_time_scale_shift\": \"scale_shift\""
             COMMAND init --config ${LDM_INIT_FIX}/bad-unet --dry-run)
ldm_cli_test(cli_init_bad_scheduler CODE 1 NEEDLE "scheduler_config.json: unsupported beta_schedule \"cosine\""
             COMMAND init --config ${LDM_INIT_FIX}/bad-scheduler --dry-run)
ldm_cli_test(cli_init_unsupported_class CODE 1 NEEDLE "model class \"VQModel\" is not supported"
             COMMAND init --config ${LDM_INIT_FIX}/vqmodel --dry-run)
ldm_cli_test(cli_init_exists CODE 1 NEEDLE "-o ${LDM_FIXTURES}/tiny-ldm: already exists (pass --force to replace it)"
             COMMAND init --config ${LDM_FIXTURES}/tiny-ldm -o ${LDM_FIXTURES}/tiny-ldm)
ldm_cli_test(cli_init_no_parent CODE 1 NEEDLE "-o /nonexistent/dir/model: /nonexistent/dir is not an existing folder"
             COMMAND init --config ${LDM_FIXTURES}/tiny-ldm -o /nonexistent/dir/model)
ldm_cli_test(cli_init_unwritable CODE 1 NEEDLE "-o /proc/ldm-model: cannot write in /proc"
             COMMAND init --config ${LDM_FIXTURES}/tiny-ldm -o /proc/ldm-model)
ldm_cli_test(cli_init_bad_seed CODE 1 NEEDLE "--seed: expected an integer from 0"
             COMMAND init --config ${LDM_FIXTURES}/tiny-ldm -o x --seed -1)
