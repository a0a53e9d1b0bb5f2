/* SPDX-License-Identifier: MIT */
/*
 * Read-copy-update for lock-free lookups, over liburcu (the "bulletproof"
 * flavour: threads need no registration, so real-runtime actors and the
 * virtual runtime's single thread work alike).
 *
 * Readers: iopf_rcu_read_lock(); load the published pointer with an
 * acquire load; use it; take a reference on what must outlive the section;
 * iopf_rcu_read_unlock(). Nothing may block inside: no contended lock, no
 * wait, no sleep, no charge. The virtual runtime enforces it (a blocking
 * call inside a section is reported as misuse), because blocking there
 * would switch to another actor on the same thread.
 *
 * Writers: publish the new version with a release store, then
 * iopf_rcu_synchronize() (outside any read section) before freeing the
 * old one.
 */
#ifndef IOPF_RCU_H
#define IOPF_RCU_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enter a read section; sections nest. Never blocks. */
void iopf_rcu_read_lock(void);
/* Leave the innermost read section. Never blocks. */
void iopf_rcu_read_unlock(void);
/*
 * Wait until every read section that had begun when it was called has
 * ended: after it, what was unpublished before it may be freed. Blocks the
 * calling thread; must not be called inside a read section.
 */
void iopf_rcu_synchronize(void);
/* True inside a read section of the calling thread (for assertions). */
bool iopf_rcu_in_read_section(void);

#ifdef __cplusplus
}
#endif
#endif /* IOPF_RCU_H */
