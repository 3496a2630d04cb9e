# ldm sweep / resume / status / export on the tiny fixture model (64x64,
# few steps): bad specs and flags, then kill -9 / fault injection / SIGTERM
# with resume on another rank count, images byte-identical to an
# uninterrupted run (tests/cli/sweep_kill.sh).
set(LDM_SWEEP_TMP ${CMAKE_CURRENT_BINARY_DIR}/sweep-tmp)
file(MAKE_DIRECTORY ${LDM_SWEEP_TMP})
set(LDM_TINY ${LDM_FIXTURES}/tiny-ldm)
set(LDM_BAD_SPECS ${CMAKE_CURRENT_LIST_DIR}/sweep-bad)

add_test(NAME cli_sweep_help COMMAND $<TARGET_FILE:ldm> sweep --help)
set_tests_properties(cli_sweep_help PROPERTIES LABELS cli PASS_REGULAR_EXPRESSION "--checkpoint-every")
# Bad specs: the field is named, exit 1, and no run file is written.
function(ldm_sweep_bad_spec name needle)
  add_test(NAME cli_sweep_bad_${name}
           COMMAND sh -c "rm -f \"$2\" && \"$0\" 1 \"$1\" -- \"$3\" sweep \"$4\" -o \"$2\" --model \"$5\" && test ! -e \"$2\""
                   ${PROJECT_SOURCE_DIR}/tests/expect.sh "${needle}" ${LDM_SWEEP_TMP}/bad-${name}.h5
                   $<TARGET_FILE:ldm> ${LDM_BAD_SPECS}/${name}.json ${LDM_TINY})
  set_tests_properties(cli_sweep_bad_${name} PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1")
endfunction()
ldm_sweep_bad_spec(missing_name "\"name\" is required")
ldm_sweep_bad_spec(wrong_type "\"seeds\" must be a number or a list")
ldm_sweep_bad_spec(empty_prompts "\"prompts\" must not be an empty list")
ldm_sweep_bad_spec(steps_zero "\"steps\"[0] must be an integer from 1")
ldm_sweep_bad_spec(size_not_8 "\"sizes\"[0] width must be a multiple of 8")
ldm_cli_test(cli_sweep_no_output CODE 1 NEEDLE "-o RUN.h5 is required" COMMAND sweep ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json)
ldm_cli_test(cli_sweep_spec_missing CODE 1 NEEDLE "/nonexistent/spec.json" COMMAND sweep /nonexistent/spec.json -o ${LDM_SWEEP_TMP}/x.h5 --model ${LDM_TINY})
ldm_cli_test(cli_resume_not_runfile CODE 1 NEEDLE "not an ldm run file" COMMAND resume ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json --model ${LDM_TINY})
ldm_cli_test(cli_status_not_runfile CODE 1 NEEDLE "not an ldm run file" COMMAND status ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json)

# A finished sweep: not overwritten without --force, resumed with another
# model refused, status and export.
add_test(NAME cli_sweep_tiny
         COMMAND sh -c "rm -f run.h5 && \"$0\" sweep \"$1\" -o run.h5 --model \"$2\" -q && \"$0\" status run.h5 && \"$0\" export run.h5 png && test -f png/item-00007.png && test -f png/sheet-001.png"
                 $<TARGET_FILE:ldm> ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json ${LDM_TINY}
         WORKING_DIRECTORY ${LDM_SWEEP_TMP})
set_tests_properties(cli_sweep_tiny PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1"
                     PASS_REGULAR_EXPRESSION "done 8, partial 0, pending 0" FIXTURES_SETUP sweep_tiny)
ldm_cli_test(cli_sweep_no_overwrite CODE 1 NEEDLE "--force" COMMAND sweep ${PROJECT_SOURCE_DIR}/jobs/tiny-sweep.json -o ${LDM_SWEEP_TMP}/run.h5 --model ${LDM_TINY})
set_tests_properties(cli_sweep_no_overwrite PROPERTIES FIXTURES_REQUIRED sweep_tiny)
ldm_cli_test(cli_resume_other_model CODE 1 NEEDLE "resume with the model it was made with" COMMAND resume ${LDM_SWEEP_TMP}/run.h5 --model ${LDM_FIXTURES}/tiny-ldm-bin)
set_tests_properties(cli_resume_other_model PROPERTIES FIXTURES_REQUIRED sweep_tiny)

# The signal case gets longer items (sweep-signal.json: 120/50 steps): with
# sweep-kill.json a fast idle machine finished the whole sweep before the
# SIGTERM arrived and the test could only skip.
foreach(mode crash kill9 signal)
  set(spec sweep-kill.json)
  if(mode STREQUAL "signal")
    set(spec sweep-signal.json)
  endif()
  add_test(NAME cli_sweep_${mode}
           COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sweep_kill.sh $<TARGET_FILE:ldm> ${MPIEXEC_EXECUTABLE}
                   ${LDM_TINY} ${CMAKE_CURRENT_LIST_DIR}/${spec} ${LDM_SWEEP_TMP}/${mode} ${mode})
  set_tests_properties(cli_sweep_${mode} PROPERTIES LABELS "cli;mpi" SKIP_RETURN_CODE 77
                       PROCESSORS 4 TIMEOUT 600 ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()

# --trajectory K: frames written, identical on 1 and 2 ranks.
add_test(NAME cli_sweep_trajectory
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/sweep_trajectory.sh $<TARGET_FILE:ldm> ${MPIEXEC_EXECUTABLE}
                 ${LDM_FIXTURES} ${CMAKE_CURRENT_BINARY_DIR}/sweep-trajectory-tmp)
set_tests_properties(cli_sweep_trajectory PROPERTIES LABELS cli SKIP_RETURN_CODE 77)

# PNDM runs one more scheduler step than num_inference_steps: checkpoints and
# trajectory frames every step must not fail on it ("step 7 is outside 1..6").
add_test(NAME cli_sweep_pndm_checkpoints
         COMMAND sh -c "rm -f pndm.h5 && \"$0\" sweep \"$1\" -o pndm.h5 --model \"$2\" --checkpoint-every 1 --trajectory 2 -q && \"$0\" status pndm.h5"
                 $<TARGET_FILE:ldm> ${CMAKE_CURRENT_LIST_DIR}/sweep-pndm.json ${LDM_TINY}
         WORKING_DIRECTORY ${LDM_SWEEP_TMP})
set_tests_properties(cli_sweep_pndm_checkpoints PROPERTIES LABELS cli ENVIRONMENT "OMP_NUM_THREADS=1"
                     PASS_REGULAR_EXPRESSION "done 2, partial 0, pending 0")
