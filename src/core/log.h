/* log.h — messages to the terminal. Only rank 0 of the world prints
 * (ldm_log_set_rank sets who we are); levels filter verbosity. */
#ifndef LDM_CORE_LOG_H
#define LDM_CORE_LOG_H

typedef enum ldm_log_level { LDM_LOG_ERROR = 0, LDM_LOG_WARN, LDM_LOG_INFO, LDM_LOG_DEBUG } ldm_log_level;

void ldm_log_set_rank(int rank);
void ldm_log_set_level(ldm_log_level level);
void ldm_log(ldm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
