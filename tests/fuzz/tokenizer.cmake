# src/text: the tokenizer on arbitrary bytes (seed corpus: tests/fuzz/corpus/tokenizer).
ldm_fuzz_target(fuzz_tokenizer SOURCE ${CMAKE_CURRENT_LIST_DIR}/fuzz_tokenizer.c
                LIBS ldm_text CORPUS ${CMAKE_CURRENT_LIST_DIR}/corpus/tokenizer)
# The target reads tests/fixtures/tokenizer/vocab.txt.
target_compile_definitions(fuzz_tokenizer PRIVATE LDM_FIXTURES="${LDM_FIXTURES}")
