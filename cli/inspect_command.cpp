#include "cli/inspect_command.h"

#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "common/safetensors.h"

namespace gradients::cli {

int RunInspect(const std::filesystem::path& path, std::ostream& out, std::ostream& err) {
  common::Result<common::SafetensorsFile> file = common::SafetensorsFile::Open(path);
  if (!file.ok()) return Fail(err, "inspect", file.status());
  const common::SafetensorsHeader& header = file->header();
  nlohmann::json tensors = nlohmann::json::array();
  for (const common::SafetensorsTensor& tensor : header.tensors) {
    tensors.push_back({{"name", tensor.name},
                       {"dtype", common::DTypeName(tensor.dtype)},
                       {"shape", tensor.shape},
                       {"data_offsets", {tensor.data_begin, tensor.data_end}}});
  }
  nlohmann::json report = {{"file", path.string()},
                           {"header_bytes", header.header_size},
                           {"metadata", header.metadata},
                           {"tensors", std::move(tensors)}};
  // Tensor names come from the file: replace invalid UTF-8 rather than throw.
  out << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

void AddInspectCommand(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  CLI::App* inspect = app.add_subcommand("inspect", "Validate a .safetensors file and print its tensors as JSON");
  inspect->add_option("file", *file, "The .safetensors file")->required();
  inspect->callback([file] { ExitWith(RunInspect(*file, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
