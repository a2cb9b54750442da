/*
 * `drivefs auth login | status | logout`: signing in, checking which
 * credentials a mount would use, signing out. See fs/auth.c.
 */
#ifndef FS_AUTH_H
#define FS_AUTH_H

#include "common/compat.h"

/*
 * Run `drivefs auth ...`; argv[0] is "auth". Returns the process exit
 * status: 0 ok, 1 failed, 2 usage error.
 */
int fs_auth_main(int argc, char **argv);

#endif
