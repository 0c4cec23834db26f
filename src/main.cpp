#include "sqlkeeper/cli/cli.h"

int main(int argc, char** argv) {
  return sqlkeeper::cli::main(argc, argv);
}
