/* A shared object with no skiff symbols at all. */
__attribute__((visibility("default"))) int some_function(void) {
  return 42;
}
