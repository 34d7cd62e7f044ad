/* Unit tests of coord/session.c: the session table and the replay stream's
 * frame index (what the daemon uses to measure how far a follower lags). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coord/coordd_int.h"
#include "coord/proto.h"

static void test_table_find_and_remove(void **state)
{
    struct coord_table t;
    struct coord_session *a, *b, *s;
    char key[16];
    int i;

    (void)state;
    assert_int_equal(coord_table_init(&t, 4), CCP_OK);
    assert_int_equal(coord_session_new(&t, "key-a", 5, 1000, &a), CCP_OK);
    assert_int_equal(coord_session_new(&t, "key-b", 5, 1000, &b), CCP_OK);
    assert_ptr_equal(coord_table_find(&t, "key-a", 5), a);
    assert_ptr_equal(coord_table_find(&t, "key-b", 5), b);
    assert_null(coord_table_find(&t, "key-", 4));
    assert_null(coord_table_find(&t, "key-c", 5));
    assert_int_equal(t.count, 2);
    coord_table_remove(&t, a);
    coord_table_remove(&t, a); /* idempotent */
    assert_int_equal(t.count, 1);
    assert_null(coord_table_find(&t, "key-a", 5));
    assert_ptr_equal(coord_table_find(&t, "key-b", 5), b);
    coord_session_free(a);
    coord_table_remove(&t, b);
    coord_session_free(b);
    coord_session_free(NULL);
    /* many keys sharing buckets */
    for (i = 0; i < 500; i++) {
        memset(key, 0, sizeof(key));
        key[0] = (char)(i & 0xff);
        key[1] = (char)(i >> 8);
        assert_int_equal(coord_session_new(&t, key, sizeof(key), 100, &s), CCP_OK);
    }
    assert_int_equal(t.count, 500);
    for (i = 0; i < 500; i++) {
        memset(key, 0, sizeof(key));
        key[0] = (char)(i & 0xff);
        key[1] = (char)(i >> 8);
        s = coord_table_find(&t, key, sizeof(key));
        assert_non_null(s);
        assert_memory_equal(s->key, key, sizeof(key));
        coord_table_remove(&t, s);
        coord_session_free(s);
    }
    assert_int_equal(t.count, 0);
    coord_table_release(&t);
    coord_table_release(&t);
}

static void test_frame_index(void **state)
{
    struct coord_table t;
    struct coord_session *s;

    (void)state;
    assert_int_equal(coord_table_init(&t, 1), CCP_OK);
    assert_int_equal(coord_session_new(&t, "k", 1, 1000, &s), CCP_OK);
    assert_int_equal(coord_session_event(s, "abc", 3), CCP_OK);   /* frame 0: [0, 8) */
    assert_int_equal(coord_session_event(s, "defgh", 5), CCP_OK); /* frame 1: [8, 18) */
    assert_int_equal(s->n_frames, 2);
    assert_int_equal(s->stream.len, 18);
    assert_int_equal(coord_session_frames_before(s, 0), 0);
    assert_int_equal(coord_session_frames_before(s, 7), 0);
    assert_int_equal(coord_session_frames_before(s, 8), 1);
    assert_int_equal(coord_session_frames_before(s, 17), 1);
    assert_int_equal(coord_session_frames_before(s, 18), 2);
    assert_int_equal(coord_session_frame_end(s, 0), 0);
    assert_int_equal(coord_session_frame_end(s, 1), 8);
    assert_int_equal(coord_session_frame_end(s, 8), 8);
    assert_int_equal(coord_session_frame_end(s, 9), 18);
    assert_int_equal(coord_session_frame_end(s, 18), 18);
    assert_int_equal(coord_session_finish(s, false, "leader gone"), CCP_OK);
    assert_true(s->finished);
    assert_int_equal(s->n_frames, 3);
    assert_memory_equal(s->stream.ptr + 18, "\x00\x00\x00\x0c\x07leader gone", 16);
    coord_table_remove(&t, s);
    coord_session_free(s);
    coord_table_release(&t);
}

static void test_event_bytes_cap_leaves_room_for_the_end(void **state)
{
    struct coord_table t;
    struct coord_session *s;
    char big[64];

    (void)state;
    memset(big, 'e', sizeof(big));
    assert_int_equal(coord_table_init(&t, 1), CCP_OK);
    assert_int_equal(coord_session_new(&t, "k", 1, 100, &s), CCP_OK);
    assert_int_equal(coord_session_event(s, big, 64), CCP_OK);            /* 69 bytes */
    assert_int_equal(coord_session_event(s, big, 27), CCP_ERR_TOO_LARGE); /* 101 */
    assert_int_equal(s->stream.len, 69);
    assert_int_equal(s->n_frames, 1);
    assert_int_equal(coord_session_event(s, big, 26), CCP_OK); /* exactly 100 */
    assert_int_equal(coord_session_event(s, big, 1), CCP_ERR_TOO_LARGE);
    assert_int_equal(coord_session_event(s, big, SIZE_MAX), CCP_ERR_TOO_LARGE);
    /* a long reason is cut to COORD_REASON_MAX, and always fits */
    {
        char reason[COORD_REASON_MAX + 50];
        memset(reason, 'r', sizeof(reason) - 1);
        reason[sizeof(reason) - 1] = '\0';
        assert_int_equal(coord_session_finish(s, false, reason), CCP_OK);
    }
    assert_int_equal(s->stream.len, 100 + COORD_FRAME_HEADER + COORD_REASON_MAX);
    coord_table_remove(&t, s);
    coord_session_free(s);
    coord_table_release(&t);
}

static void test_error_answer_is_the_only_frame(void **state)
{
    static const char payload[] = "\x01\xad\x00\x10retry-after: 3\r\n{}";
    struct coord_table t;
    struct coord_session *s;
    struct coord_frame f;
    struct coord_error e;
    char big[COORD_ERROR_MAX];
    size_t used;

    (void)state;
    assert_int_equal(coord_table_init(&t, 1), CCP_OK);
    /* a tiny replay limit still holds a whole error answer */
    assert_int_equal(coord_session_new(&t, "k", 1, 16, &s), CCP_OK);
    assert_int_equal(coord_session_finish_error(s, payload, sizeof(payload) - 1), CCP_OK);
    assert_true(s->finished);
    assert_int_equal(s->n_frames, 1);
    assert_int_equal(coord_decode(s->stream.ptr, s->stream.len, 1 << 20, &f, &used), CCP_OK);
    assert_int_equal(f.type, COORD_ERROR);
    assert_int_equal(used, s->stream.len);
    assert_int_equal(coord_parse_error(f.payload, f.len, &e), CCP_OK);
    assert_int_equal(e.status, 429);
    coord_table_remove(&t, s);
    coord_session_free(s);
    /* the largest answer fits too */
    assert_int_equal(coord_session_new(&t, "k", 1, 16, &s), CCP_OK);
    memset(big, ' ', sizeof(big));
    memcpy(big, "\x01\xf4\x00\x00", 4);
    assert_int_equal(coord_session_finish_error(s, big, sizeof(big)), CCP_OK);
    assert_int_equal(s->stream.len, COORD_FRAME_HEADER + COORD_ERROR_MAX);
    coord_table_remove(&t, s);
    coord_session_free(s);
    coord_table_release(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_find_and_remove),
        cmocka_unit_test(test_frame_index),
        cmocka_unit_test(test_event_bytes_cap_leaves_room_for_the_end),
        cmocka_unit_test(test_error_answer_is_the_only_frame),
    };

    return cmocka_run_group_tests_name("coord_session", tests, NULL, NULL);
}
