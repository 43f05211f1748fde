// Errors thrown by libgptoss. Every message names what was wrong and where (file, tensor, key,
// byte offset) so that a tool can print it as one line and exit non-zero.
#pragma once

#include <stdexcept>
#include <string>

namespace gptoss {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The caller's stop check said stop (Ctrl-C): the work in progress was abandoned, and what had
// been computed before it is intact.
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

}  // namespace gptoss
