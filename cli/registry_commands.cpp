#include "cli/registry_commands.h"

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "common/clock.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"

namespace gradients::cli {
namespace {

nlohmann::json ToJson(const validator::ModelRecord& model) {
  nlohmann::json files = nlohmann::json::array();
  for (const validator::ModelFile& file : model.files) {
    files.push_back({{"path", file.path}, {"bytes", file.bytes}, {"blob", file.blob}});
  }
  return {{"hash", model.hash},
          {"name", model.name},
          {"parameters", model.parameters},
          {"files", files},
          {"added_at_ms", model.added_at_ms}};
}

nlohmann::json ToJson(const validator::DatasetRecord& dataset) {
  return {{"hash", dataset.hash},
          {"name", dataset.name},
          {"format", dataset.format},
          {"bytes", dataset.bytes},
          {"added_at_ms", dataset.added_at_ms}};
}

template <typename Record, typename Register>
int Add(const RegisterArgs& args, std::string_view command, Register register_one, std::ostream& out,
        std::ostream& err) {
  common::Result<validator::DataDirectory> data = validator::OpenDataDirectory(args.data_dir);
  if (!data.ok()) return Fail(err, command, data.status());
  common::Result<Record> record = register_one(*data->store, *data->blobs, args.path, args.name, common::SystemClockMs());
  if (!record.ok()) return Fail(err, command, record.status());
  out << ToJson(*record).dump(2) << "\n";
  return 0;
}

template <typename List>
int ListRecords(const std::filesystem::path& data_dir, std::string_view command, List list, std::ostream& out,
                std::ostream& err) {
  common::Result<validator::DataDirectory> data = validator::OpenDataDirectory(data_dir);
  if (!data.ok()) return Fail(err, command, data.status());
  auto records = list(*data->store);
  if (!records.ok()) return Fail(err, command, records.status());
  nlohmann::json array = nlohmann::json::array();
  for (const auto& record : *records) array.push_back(ToJson(record));
  out << array.dump(2) << "\n";
  return 0;
}

}  // namespace

int RunModelAdd(const RegisterArgs& args, std::ostream& out, std::ostream& err) {
  return Add<validator::ModelRecord>(
      args, "model add",
      [](validator::CatalogStore& catalog_store, const validator::BlobStore& blobs, const std::filesystem::path& path,
         const std::string& name, int64_t now_ms) {
        return validator::RegisterModel(catalog_store, blobs, path, name, now_ms);
      },
      out, err);
}

int RunDatasetAdd(const RegisterArgs& args, std::ostream& out, std::ostream& err) {
  return Add<validator::DatasetRecord>(args, "dataset add", validator::RegisterDataset, out, err);
}

int RunModelList(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
  return ListRecords(
      data_dir, "model list", [](validator::CatalogStore& catalog_store) { return catalog_store.ListModels(); }, out,
      err);
}

int RunDatasetList(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err) {
  return ListRecords(
      data_dir, "dataset list", [](validator::CatalogStore& catalog_store) { return catalog_store.ListDatasets(); },
      out, err);
}

}  // namespace gradients::cli
