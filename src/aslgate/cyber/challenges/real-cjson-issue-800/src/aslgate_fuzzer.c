/* aslgate harness for cJSON: parse the input as JSON and print it back, minified. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cJSON *json = cJSON_ParseWithLength((const char *)data, size);
  if (json == NULL) {
    printf("invalid\n");
    return 0;
  }
  char *text = cJSON_PrintUnformatted(json);
  if (text) {
    printf("%s\n", text);
    free(text);
  }
  cJSON_Delete(json);
  return 0;
}
