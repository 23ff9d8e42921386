#include "cli/corpus_commands.h"

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "trainers/trainer.h"

namespace gradients::cli {

int RunCorpus(const CorpusArgs& args, std::ostream& out, std::ostream& err) {
  if (args.name.empty()) {
    for (const corpora::CorpusSource& source : corpora::CorpusSources()) {
      out << nlohmann::json{{"name", source.name}, {"format", source.format}, {"description", source.description}}
                 .dump()
          << "\n";
    }
    return 0;
  }
  if (args.out.empty()) return Fail(err, "corpus", common::Status::InvalidArgument("--out is required"));
  common::Result<std::vector<nlohmann::json>> rows = corpora::MakeCorpus(args.name, args.options);
  if (!rows.ok()) return Fail(err, "corpus", rows.status());
  if (common::Status status = corpora::WriteJsonLines(args.out, *rows); !status.ok()) return Fail(err, "corpus", status);
  out << nlohmann::json{{"out", args.out.string()}, {"rows", rows->size()}}.dump() << "\n";
  return 0;
}

int RunBaseModel(const testnet::BaseModelOptions& options, std::ostream& out, std::ostream& err) {
  testnet::BaseModelOptions with_progress = options;
  with_progress.on_progress = [&](const train::TrainProgress& progress) {
    err << "step " << progress.step << "/" << progress.total_steps << "  loss " << progress.loss << "  "
        << static_cast<int64_t>(progress.tokens_per_second) << " tok/s\n";
  };
  common::Result<testnet::BaseModelResult> made = testnet::MakeBaseModel(with_progress);
  if (!made.ok()) return Fail(err, "base-model", made.status());
  out << nlohmann::json{{"out", options.out.string()},
                        {"recipe_digest", made->recipe_digest},
                        {"cached", made->cached},
                        {"trained_tokens", made->tokens},
                        {"final_loss", made->final_loss}}
             .dump()
      << "\n";
  return 0;
}

}  // namespace gradients::cli
