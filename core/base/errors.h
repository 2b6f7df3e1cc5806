// errors.h: the one exception hierarchy of nnscope's core.
//
// Every error a user can cause (bad file, bad name, bad shape) is one of these, with a
// message in PyTorch's words where PyTorch has words for it. Asserts are for internal
// invariants only. The kind mirrors the Python exception PyTorch raises, so tests can
// compare both the type and the text with PyTorch.
#pragma once

#include <stdexcept>
#include <string>

namespace nnscope {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
    virtual const char* kind() const noexcept { return "RuntimeError"; }
};

// PyTorch's ValueError / KeyError / TypeError / IndexError, with the same meaning.
class ValueError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "ValueError"; }
};
class KeyError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "KeyError"; }
};
class TypeError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "TypeError"; }
};
class AttributeError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "AttributeError"; }
};
class NotImplementedError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "NotImplementedError"; }
};
class IndexError : public Error {
  public:
    using Error::Error;
    const char* kind() const noexcept override { return "IndexError"; }
};

// A tensor on the wrong device, or a device that is not available. PyTorch raises these as
// RuntimeError, and so does kind().
class DeviceError : public Error {
  public:
    using Error::Error;
};

// A device, or the host, could not provide the memory asked for: torch.OutOfMemoryError.
// Its words come from out_of_memory_message() (device.h) for every device.
class OutOfMemoryError : public DeviceError {
  public:
    using DeviceError::DeviceError;
    const char* kind() const noexcept override { return "OutOfMemoryError"; }
};

// A file that cannot be read or written, or whose content is malformed. The message
// always starts with the file's path.
class FormatError : public Error {
  public:
    FormatError(const std::string& path, const std::string& what)
        : Error(path + ": " + what), m_path(path) {}
    const char* kind() const noexcept override { return "FormatError"; }
    const std::string& path() const noexcept { return m_path; }

  private:
    std::string m_path;
};

} // namespace nnscope
