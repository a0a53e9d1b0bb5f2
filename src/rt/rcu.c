// SPDX-License-Identifier: MIT
/*
 * RCU wrappers: liburcu-bp plus two things it cannot know about: the
 * virtual runtime's rule that nothing blocks inside a read section (checked
 * through the per-thread nesting depth), and ThreadSanitizer, which does not
 * see the grace period as synchronisation (each read-side unlock releases a
 * token the writer acquires after the grace period).
 *
 * The library's functions are called, not its inline fast paths: those
 * access the reader registry through a type whose alignment the registry
 * does not honour, which UBSan rightly reports.
 */
#include <iopf/rcu.h>

#include <urcu/urcu-bp.h>

#include "rt_internal.h"

#if defined(__SANITIZE_THREAD__)
#define RCU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RCU_TSAN 1
#endif
#endif
#ifdef RCU_TSAN
#include <sanitizer/tsan_interface.h>
static char rcu_tsan_token;
#endif

RT_TLS unsigned rt_rcu_depth;

void iopf_rcu_read_lock(void)
{
	urcu_bp_read_lock();
	rt_rcu_depth++;
}

void iopf_rcu_read_unlock(void)
{
	if (!rt_rcu_depth)
		rt_panic("RCU read unlock without lock");
	rt_rcu_depth--;
#ifdef RCU_TSAN
	__tsan_release(&rcu_tsan_token);
#endif
	urcu_bp_read_unlock();
}

void iopf_rcu_synchronize(void)
{
	if (rt_rcu_depth)
		rt_panic("RCU synchronize inside a read-side section");
	urcu_bp_synchronize_rcu();
#ifdef RCU_TSAN
	__tsan_acquire(&rcu_tsan_token);
#endif
}

bool iopf_rcu_in_read_section(void)
{
	return rt_rcu_depth != 0;
}
