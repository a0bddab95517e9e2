//===- Error.h - the runtime's one error type ------------------------------===//
#ifndef TETRA_RUNTIME_ERROR_H
#define TETRA_RUNTIME_ERROR_H

#include <stdexcept>
#include <string>

namespace tetra::rt {
/// A problem with the user's input (artifact, checkpoint, data): the message
/// names the file and what is wrong; tetra-run prints it and exits non-zero.
class Error : public std::runtime_error {
public:
  explicit Error(const std::string &message) : std::runtime_error(message) {}
};
} // namespace tetra::rt

#endif // TETRA_RUNTIME_ERROR_H
