#include "common/durable_file.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace gradients::common {
namespace {

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out;
  for (int i = 0; i < 12; ++i) out += kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
  return out;
}

Status WriteAll(int fd, const uint8_t* data, size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("writing " + path.string(), errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status ReadPrefixInBlocks(int fd, uint64_t size, std::string_view what,
                          const std::function<void(std::string_view)>& each) {
  std::vector<char> block(std::min<uint64_t>(size, uint64_t{1} << 20));
  for (uint64_t done = 0; done < size;) {
    const ssize_t got = ::pread(fd, block.data(), std::min<uint64_t>(block.size(), size - done), static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return ErrnoStatus("reading " + std::string(what), got < 0 ? errno : EIO);
    each(std::string_view(block.data(), static_cast<size_t>(got)));
    done += static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

ScopedDescriptor::~ScopedDescriptor() {
  if (fd >= 0) ::close(fd);
}

Status ErrnoStatus(std::string_view what, int error_number) {
  return Status::IoError(std::string(what) + ": " + std::strerror(error_number));
}

Result<DurableFileWriter> DurableFileWriter::Create(const std::filesystem::path& path, mode_t mode) {
  std::filesystem::path temp_path = path;
  temp_path += ".tmp-" + RandomSuffix();
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus("creating " + temp_path.string(), errno);
  // open() applies the umask; the caller's mode (0600 for keys) is what must hold.
  if (::fchmod(fd, mode) != 0) {
    int saved = errno;
    ::close(fd);
    ::unlink(temp_path.c_str());
    return ErrnoStatus("setting the mode of " + temp_path.string(), saved);
  }
  return DurableFileWriter(fd, path, std::move(temp_path));
}

DurableFileWriter::DurableFileWriter(DurableFileWriter&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      bytes_written_(other.bytes_written_) {}

DurableFileWriter& DurableFileWriter::operator=(DurableFileWriter&& other) noexcept {
  if (this != &other) {
    Abandon();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    temp_path_ = std::move(other.temp_path_);
    bytes_written_ = other.bytes_written_;
  }
  return *this;
}

DurableFileWriter::~DurableFileWriter() { Abandon(); }

void DurableFileWriter::Abandon() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_path_.c_str());
  fd_ = -1;
}

Status DurableFileWriter::Append(std::span<const uint8_t> data) {
  if (fd_ < 0) return Status::FailedPrecondition("writer for " + path_.string() + " is closed");
  GRADIENTS_RETURN_IF_ERROR(WriteAll(fd_, data.data(), data.size(), temp_path_));
  bytes_written_ += data.size();
  return Status::Ok();
}

Status DurableFileWriter::Append(std::string_view data) {
  return Append(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

Status DurableFileWriter::Commit() {
  if (fd_ < 0) return Status::FailedPrecondition("writer for " + path_.string() + " is closed");
  if (::fsync(fd_) != 0) {
    int saved = errno;
    Abandon();
    return ErrnoStatus("fsync of " + temp_path_.string(), saved);
  }
  if (::close(fd_) != 0) {
    int saved = errno;
    fd_ = -1;
    ::unlink(temp_path_.c_str());
    return ErrnoStatus("closing " + temp_path_.string(), saved);
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    int saved = errno;
    ::unlink(temp_path_.c_str());
    return ErrnoStatus("renaming " + temp_path_.string() + " to " + path_.string(), saved);
  }
  std::filesystem::path dir = path_.parent_path();
  return SyncDirectory(dir.empty() ? std::filesystem::path(".") : dir);
}

Status WriteFileDurably(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  GRADIENTS_ASSIGN_OR_RETURN(DurableFileWriter writer, DurableFileWriter::Create(path, mode));
  GRADIENTS_RETURN_IF_ERROR(writer.Append(data));
  return writer.Commit();
}

Status SyncDirectory(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening directory " + dir.string(), errno);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync of directory " + dir.string(), saved);
  return Status::Ok();
}

namespace {

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  return (type == FTW_DP ? ::rmdir(path) : ::unlink(path)) == 0 ? 0 : errno;
}

}  // namespace

Status RemoveTree(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus("stat of " + path.string(), errno);
  }
  // Depth first (children before their directory), physical (links are not followed).
  int rc = ::nftw(path.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) return ErrnoStatus("removing " + path.string(), rc > 0 ? rc : errno);
  return Status::Ok();
}

Result<std::string> ReadFileToString(const std::filesystem::path& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int saved = errno;
    if (saved == ENOENT) return Status::NotFound(path.string() + ": no such file");
    return ErrnoStatus("opening " + path.string(), saved);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int saved = errno;
    ::close(fd);
    return ErrnoStatus("stat of " + path.string(), saved);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path.string() + ": not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status::ResourceExhausted(path.string() + ": " + std::to_string(st.st_size) +
                                     " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      return ErrnoStatus("reading " + path.string(), saved);
    }
    if (n == 0) break;  // the file shrank while being read
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

}  // namespace gradients::common
