/*
 * store.c - what the job store's back-ends share (see store.h).
 */
#include "store.h"

#include <sys/random.h>

int
store_new_id (char id[STORE_ID_SIZE], struct ce_error *err)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char r[STORE_ID_LEN / 2];

        if (getrandom (r, sizeof (r), 0) != (ssize_t) sizeof (r))
                return ce_fail (err, errno ? errno : EIO, "job store: getrandom: %s",
                                strerror (errno));
        r[6] = (unsigned char) ((r[6] & 0x0f) | 0x40); /* version 4 */
        r[8] = (unsigned char) ((r[8] & 0x3f) | 0x80); /* variant 1 */
        for (size_t i = 0; i < sizeof (r); i++) {
                id[2 * i] = hex[r[i] >> 4];
                id[2 * i + 1] = hex[r[i] & 15];
        }
        id[STORE_ID_LEN] = '\0';
        return 0;
}
