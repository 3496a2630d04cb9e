# tests/slurm: the scripts in slurm/ on a real one-node Slurm started by the
# test (tests/slurm/test_slurm.sh, cluster.sh), tools/scaling on hand-written
# timings CSVs, and `ldm sweep --shard`. Label slurm (ctest -L slurm).
#
# test_slurm needs Debian's munge, slurmctld, slurmd and slurm-client
# (setup.sh installs them) and root (slurmd starts the jobs). If the daemons
# do not come up it fails with their logs; it never skips.
add_test(NAME slurm_scripts
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_slurm.sh $<TARGET_FILE:ldm> ${PROJECT_SOURCE_DIR}
                 ${CMAKE_CURRENT_BINARY_DIR}/slurm-tmp)
set_tests_properties(slurm_scripts PROPERTIES LABELS "slurm;mpi" TIMEOUT 900 PROCESSORS 4
                     ENVIRONMENT "OMP_NUM_THREADS=1")

add_test(NAME slurm_scaling_tool
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_scaling_tool.sh ${PROJECT_SOURCE_DIR}/tools/scaling
                 ${CMAKE_CURRENT_LIST_DIR}/scaling-csv ${CMAKE_CURRENT_BINARY_DIR}/scaling-tool-tmp)
set_tests_properties(slurm_scaling_tool PROPERTIES LABELS slurm)

# ldm sweep --shard I/N: the ranges, and bad values (exit 1 naming the flag).
set(LDM_TINY_SWEEP ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json --model ${LDM_FIXTURES}/tiny-ldm)
add_test(NAME cli_sweep_shard_range COMMAND $<TARGET_FILE:ldm> sweep ${LDM_TINY_SWEEP} --shard 1/3 --dry-run)
set_tests_properties(cli_sweep_shard_range PROPERTIES LABELS "cli;slurm" ENVIRONMENT "OMP_NUM_THREADS=1"
                     PASS_REGULAR_EXPRESSION "shard 1/3: 3 items, 2 to 4\n2: seed 1, guidance 1[^\n]*\n3: [^\n]*\n4: seed 0, guidance 1[^\n]*blue square")
ldm_cli_test(cli_sweep_shard_i_too_big CODE 1 NEEDLE "--shard must be I/N with 0 <= I < N" COMMAND sweep ${LDM_TINY_SWEEP} --shard 3/3 --dry-run)
ldm_cli_test(cli_sweep_shard_not_i_n CODE 1 NEEDLE "--shard must be I/N with 0 <= I < N <= 1048576, got \"2\"" COMMAND sweep ${LDM_TINY_SWEEP} --shard 2 --dry-run)
ldm_cli_test(cli_sweep_shard_negative CODE 1 NEEDLE "got \"-1/4\"" COMMAND sweep ${LDM_TINY_SWEEP} --shard -1/4 --dry-run)
ldm_cli_test(cli_sweep_shard_trailing CODE 1 NEEDLE "got \"1/4x\"" COMMAND sweep ${LDM_TINY_SWEEP} --shard 1/4x --dry-run)
ldm_cli_test(cli_sweep_shard_empty CODE 1 NEEDLE "--shard 0/9: shard 0 of 9 is empty: the spec has only 8 items" COMMAND sweep ${LDM_TINY_SWEEP} --shard 0/9 --dry-run)
ldm_cli_test(cli_resume_shard CODE 1 NEEDLE "resume takes no --shard" COMMAND resume run.h5 --shard 0/2)

# /status/slurm in the run file, at 1-4 ranks (SLURM_* set by the test itself).
ldm_mpi_test(test_runfile_slurm SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runfile_slurm.c LIBS ldm_io HDF5::HDF5)
