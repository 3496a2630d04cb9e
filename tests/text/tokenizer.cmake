# src/text: the BERT WordPiece tokenizer against transformers' goldens.
ldm_c_test(test_tokenizer SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tokenizer.c
           LIBS ldm_text LABELS unit golden)
