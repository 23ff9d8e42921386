#include "cli/registry_commands.h"

#include <iostream>
#include <memory>

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

void AddRegistryCommands(CLI::App& app) {
  auto model_add_args = std::make_shared<RegisterArgs>();
  auto dataset_add_args = std::make_shared<RegisterArgs>();
  auto list_data_dir = std::make_shared<std::filesystem::path>();
  CLI::App* model = app.add_subcommand("model", "Base models registered in a validator's data directory");
  model->require_subcommand(1);
  CLI::App* model_add = model->add_subcommand(
      "add", "Register a Hugging Face model directory (config.json, *.safetensors; pickles are refused)");
  model_add->add_option("--data-dir", model_add_args->data_dir, "The validator's data directory")->required();
  model_add->add_option("--name", model_add_args->name, "A name for people (default: the directory's name)");
  model_add->add_option("dir", model_add_args->path, "The model directory")->required();
  model_add->callback([model_add_args] { ExitWith(RunModelAdd(*model_add_args, std::cout, std::cerr)); });
  CLI::App* model_list = model->add_subcommand("list", "List the registered models as JSON");
  model_list->add_option("--data-dir", *list_data_dir, "The validator's data directory")->required();
  model_list->callback([list_data_dir] { ExitWith(RunModelList(*list_data_dir, std::cout, std::cerr)); });
  CLI::App* dataset = app.add_subcommand("dataset", "Datasets registered in a validator's data directory");
  dataset->require_subcommand(1);
  CLI::App* dataset_add = dataset->add_subcommand("add", "Register a .jsonl or .csv dataset file");
  dataset_add->add_option("--data-dir", dataset_add_args->data_dir, "The validator's data directory")->required();
  dataset_add->add_option("--name", dataset_add_args->name, "A name for people (default: the file's name)");
  dataset_add->add_option("file", dataset_add_args->path, "The dataset file")->required();
  dataset_add->callback([dataset_add_args] { ExitWith(RunDatasetAdd(*dataset_add_args, std::cout, std::cerr)); });
  CLI::App* dataset_list = dataset->add_subcommand("list", "List the registered datasets as JSON");
  dataset_list->add_option("--data-dir", *list_data_dir, "The validator's data directory")->required();
  dataset_list->callback([list_data_dir] { ExitWith(RunDatasetList(*list_data_dir, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
