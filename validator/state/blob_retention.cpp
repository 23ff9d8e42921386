#include "validator/state/blob_retention.h"

#include <set>
#include <string>

namespace gradients::validator {

common::Result<BlobSweep> RemoveUnneededBlobs(Store& store, const BlobStore& blobs, const RetentionOptions& options,
                                      int64_t now_ms) {
  // The blobs first, the records second: a blob stored after the listing is not considered, and
  // one listed and then recorded is either in the records read after it or within the grace period.
  common::Result<std::vector<ListedBlob>> stored = blobs.List();
  if (!stored.ok()) return stored.status();
  common::Result<std::set<std::string>> in_use = store.ListBlobsInUse(now_ms - options.keep_finished_ms);
  if (!in_use.ok()) return in_use.status();
  BlobSweep sweep;
  const int64_t stored_before_ms = now_ms - options.grace_ms;
  for (const ListedBlob& blob : *stored) {
    if (in_use->contains(blob.hash) || blob.stored_at_ms >= stored_before_ms) {
      ++sweep.kept;
      continue;
    }
    common::Result<bool> removed = blobs.RemoveIfStoredBefore(blob.hash, stored_before_ms);
    if (!removed.ok()) return removed.status();
    if (*removed) {
      ++sweep.removed;
      sweep.removed_bytes += blob.bytes;
    } else {
      ++sweep.kept;
    }
  }
  return sweep;
}

}  // namespace gradients::validator
