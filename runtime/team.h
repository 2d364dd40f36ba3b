/* team.h — what the runtime's own code asks of the team barrier (team.c).
 * Internal to the runtime: generated trainers see only kiln_sync. */
#ifndef KILN_TEAM_H
#define KILN_TEAM_H

/* How many kiln_syncs the team has completed: between two of them every
 * thread of the team reads the same number. */
unsigned kiln_sync_round(void);

#endif
