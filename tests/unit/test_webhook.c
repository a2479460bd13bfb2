/*
 * test_webhook.c - src/webhook/webhook.c: which addresses a webhook may
 * never reach unless allowed (the SSRF guard, checked on the address
 * libcurl is about to connect to). Deliveries themselves are tested over
 * real HTTP by the integration suite.
 */
#include "harness.h"
#include "vd/webhook.h"

TEST_IMPL(webhook_blocks_loopback_private_and_link_local)
{
    static const char *const blocked[] = {"127.0.0.1",
                                          "127.1.2.3",
                                          "10.0.0.1",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "169.254.169.254",
                                          "100.64.0.1",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "::1",
                                          "::",
                                          "fe80::1",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.1.1.1",
                                          "2001:db8::1",
                                          "not-an-address",
                                          NULL};
    static const char *const open[] = {"8.8.8.8",        "1.1.1.1",     "172.32.0.1",
                                       "192.169.0.1",    "100.128.0.1", "2606:4700::1111",
                                       "::ffff:8.8.8.8", NULL};
    for (int i = 0; blocked[i]; i++)
        if (!vd_webhook_address_blocked(blocked[i]))
            FAIL("%s should be refused", blocked[i]);
    for (int i = 0; open[i]; i++)
        if (vd_webhook_address_blocked(open[i]))
            FAIL("%s should be allowed", open[i]);
    return TEST_OK;
}
