// Ctrl-C for the commands: a SIGINT handler that only sets a flag, which long computations check
// between layers (gptoss::Interrupted) and loops check between tokens.
#pragma once

namespace gptoss::tools {

// Installs the handler (without SA_RESTART, so Ctrl-C also interrupts a read at a prompt).
void catch_interrupts();
bool interrupted();
void clear_interrupt();

}  // namespace gptoss::tools
