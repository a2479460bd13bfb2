/*
 * test-list.h - every unit test, one line each (libuv's test-list.h).
 *
 * To add a test:
 *   1. In tests/unit/test_<file>.c (the file mirrors src/<module>/<file>.c;
 *      a new file is picked up by the Makefile's wildcard), write
 *
 *          #include "harness.h"
 *
 *          TEST_IMPL(sandbox_fresh_box_is_empty)
 *          {
 *              ...
 *              ASSERT_EQ(rc, 0);
 *              return TEST_OK;
 *          }
 *
 *   2. Add one line below, in the block of its file:
 *
 *          TEST_ENTRY(sandbox_fresh_box_is_empty)
 *
 *      or, when it needs longer than the default 30 seconds,
 *
 *          TEST_ENTRY_TIMEOUT(sandbox_fork_bomb, 120)
 *
 * Name tests <module>_<what it checks>, so `build/test-unit NAME` runs one
 * and `build/test-unit --list` reads like a table of contents. Order is the
 * run order. A test needing root, cgroup v2 or user namespaces calls
 * RETURN_SKIP("needs root") where they are missing.
 *
 * This file has no include guard on purpose: runner.c includes it twice,
 * once to declare the functions and once to build the table.
 */

/* test_harness.c: the assertion macros themselves */
TEST_ENTRY(harness_assert_eq_prints_both_sides)
TEST_ENTRY(harness_assert_str_eq_prints_both_sides)
TEST_ENTRY(harness_assert_err_prints_names)

/* test_err.c */
TEST_ENTRY(err_names_ours)
TEST_ENTRY(err_names_errno)
TEST_ENTRY(err_unknown_and_zero)
TEST_ENTRY(err_codes_below_errno_range)
TEST_ENTRY(err_errf_keeps_first)
TEST_ENTRY(err_errf_null_and_truncation)
TEST_ENTRY(err_assert_aborts_with_message)

/* test_alloc.c */
TEST_ENTRY(alloc_fail_switch_first)
TEST_ENTRY(alloc_fail_switch_nth_only)
TEST_ENTRY(alloc_fail_switch_disarm)
TEST_ENTRY(alloc_fail_switch_all_try_calls)
TEST_ENTRY(alloc_x_ignores_switch)
TEST_ENTRY(alloc_try_realloc_failure_keeps_block)
TEST_ENTRY(alloc_zero_sizes_and_overflow)
TEST_ENTRY(alloc_xstrdup_copies)
TEST_ENTRY(alloc_x_aborts_when_out_of_memory)

/* test_buf.c */
TEST_ENTRY(buf_starts_empty)
TEST_ENTRY(buf_add_keeps_nul)
TEST_ENTRY(buf_cap_exact_fit)
TEST_ENTRY(buf_cap_hit_frees)
TEST_ENTRY(buf_alloc_bounded_by_cap)
TEST_ENTRY(buf_printf)
TEST_ENTRY(buf_printf_cap_hit_frees)
TEST_ENTRY(buf_reset_keeps_memory)
TEST_ENTRY(buf_take)
TEST_ENTRY(buf_take_empty)
TEST_ENTRY(buf_add_capped)
TEST_ENTRY(buf_random_chunks)
TEST_ENTRY(buf_random_chunks_capped)
TEST_ENTRY(buf_enomem_frees)
TEST_ENTRY(buf_read_file)

/* test_log.c */
TEST_ENTRY(log_line_format)
TEST_ENTRY(log_level_filter)
TEST_ENTRY(log_filtered_args_not_evaluated)
TEST_ENTRY(log_off_silences_all)
TEST_ENTRY(log_parse_level)
TEST_ENTRY(log_control_chars_stay_on_one_line)
TEST_ENTRY(log_long_line_cut)
TEST_ENTRY(log_raw)
TEST_ENTRY(log_keeps_errno)

/* test_proto.c */
TEST_ENTRY(proto_message_with_fds)
TEST_ENTRY(proto_extra_fds_are_closed)
TEST_ENTRY(proto_oversize_is_an_error)

/* test_record.c */
TEST_ENTRY(record_names_round_trip)
TEST_ENTRY(record_json_has_every_field)

/* test_seccomp.c */
TEST_ENTRY(seccomp_filters_build)
TEST_ENTRY(seccomp_denies_and_allows)
TEST_ENTRY(seccomp_kills_foreign_abis)
TEST_ENTRY(seccomp_personality_flags)

/* test_sandbox.c (root: real boxes) */
TEST_ENTRY(sandbox_run_captures_output)
TEST_ENTRY(sandbox_stdin_from_fd)
TEST_ENTRY(sandbox_exit_codes_and_exec_failure)
TEST_ENTRY(sandbox_limits_give_verdicts)
TEST_ENTRY(sandbox_release_wipes_the_box)
TEST_ENTRY(sandbox_cancel_from_another_thread)
TEST_ENTRY(sandbox_fresh_box)
TEST_ENTRY(sandbox_acquire_times_out_when_full)
TEST_ENTRY(sandbox_daemons_die_with_the_run)
TEST_ENTRY(sandbox_environment_is_clean)
TEST_ENTRY(sandbox_two_boxes_at_once)
TEST_ENTRY(sandbox_stdin_cannot_write_host_file)

/* test_boxfs.c (root: real boxes) */
TEST_ENTRY(boxfs_put_and_read_back)
TEST_ENTRY(boxfs_refuses_planted_symlinks)
TEST_ENTRY(boxfs_fifo_does_not_hang)
TEST_ENTRY(boxfs_rejects_names_leaving_the_box)
TEST_ENTRY(boxfs_copy_dir)

/* test_mounts.c (root: real boxes) */
TEST_ENTRY(mounts_reset_forgets_every_trace)
TEST_ENTRY(mounts_root_is_minimal_and_read_only)

/* test_checker.c */
TEST_ENTRY(checker_tokens_ignore_whitespace)
TEST_ENTRY(checker_exact_nocase)
TEST_ENTRY(checker_float_tolerances)
TEST_ENTRY(checker_parse_errors)

/* test_lang.c */
TEST_ENTRY(lang_parse_defaults_and_fields)
TEST_ENTRY(lang_parse_errors_name_the_field)
TEST_ENTRY(lang_expand_placeholders)
TEST_ENTRY(lang_table_lookups)

/* test_json.c */
TEST_ENTRY(json_lossy_keeps_valid_replaces_invalid)

/* test_judge.c (root: real boxes) */
TEST_ENTRY(judge_verdicts_in_order)
TEST_ENTRY(judge_compile_error_and_limits)
TEST_ENTRY(judge_plain_run_and_checker_program)
TEST_ENTRY(judge_cancel_kills_the_runs_and_skips_the_rest)

/* test_config.c */
TEST_ENTRY(config_defaults_file_env)
TEST_ENTRY(config_errors_name_key_and_source)
TEST_ENTRY(config_dump_hides_secrets_and_example_in_step)

/* test_server.c */
TEST_ENTRY(server_request_and_response)
TEST_ENTRY(server_refuses_bodies_over_the_cap)
TEST_ENTRY(server_streams_events)
TEST_ENTRY(server_blocking_handler_holds_only_its_connection)

/* test_request.c */
TEST_ENTRY(request_accepts_ours_and_the_seeds_names)
TEST_ENTRY(request_refusals_name_the_field)
TEST_ENTRY(request_size_caps_are_413)

/* test_store.c */
TEST_ENTRY(store_ids_unique_and_time_ordered)
TEST_ENTRY(store_create_get_round_trip)
TEST_ENTRY(store_unknown_id_is_not_found)
TEST_ENTRY(store_list_newest_first_paged_per_owner)
TEST_ENTRY(store_lifecycle_transitions_and_refusals)
TEST_ENTRY(store_stale_attempt_finish_is_ignored)
TEST_ENTRY(store_rerun_clears_the_result_and_raises_the_attempt)
TEST_ENTRY(store_sweep_removes_old_finished_and_cancelled)
TEST_ENTRY(store_counts_by_status)
TEST_ENTRY(store_migrations_apply_once)
TEST_ENTRY(store_wal_mode_and_migration_file_in_step)
TEST_ENTRY(store_url_schemes)
TEST_ENTRY(store_survives_sigkill)
TEST_ENTRY(store_keys_users_and_sessions)
TEST_ENTRY(store_webhooks_due_after_finish_and_recorded_once)
TEST_ENTRY(store_signatures_seen_once_and_purged)
TEST_ENTRY(store_claim_is_fifo)
TEST_ENTRY(store_claim_is_exclusive_across_threads)
TEST_ENTRY(store_racing_transitions_change_a_row_once)
TEST_ENTRY(store_unfinished_ids_oldest_first_before_the_cutoff)
TEST_ENTRY(store_overlong_text_is_refused)
/* test_store.c on PostgreSQL: the same contract (each skips when
 * VERDICT_TEST_DATABASE_URL is unset), then what only PostgreSQL has. */
TEST_ENTRY(store_pg_create_get_round_trip)
TEST_ENTRY(store_pg_unknown_id_is_not_found)
TEST_ENTRY(store_pg_list_newest_first_paged_per_owner)
TEST_ENTRY(store_pg_lifecycle_transitions_and_refusals)
TEST_ENTRY(store_pg_stale_attempt_finish_is_ignored)
TEST_ENTRY(store_pg_rerun_clears_the_result_and_raises_the_attempt)
TEST_ENTRY(store_pg_sweep_removes_old_finished_and_cancelled)
TEST_ENTRY(store_pg_counts_by_status)
TEST_ENTRY(store_pg_survives_sigkill)
TEST_ENTRY(store_pg_keys_users_and_sessions)
TEST_ENTRY(store_pg_webhooks_due_after_finish_and_recorded_once)
TEST_ENTRY(store_pg_signatures_seen_once_and_purged)
TEST_ENTRY(store_pg_claim_is_fifo)
TEST_ENTRY(store_pg_claim_is_exclusive_across_threads)
TEST_ENTRY(store_pg_racing_transitions_change_a_row_once)
TEST_ENTRY(store_pg_unfinished_ids_oldest_first_before_the_cutoff)
TEST_ENTRY(store_pg_overlong_text_is_refused)
TEST_ENTRY(store_pg_migration_files_in_step)
TEST_ENTRY(store_pg_migrations_apply_once)
TEST_ENTRY(store_pg_reconnects_after_the_backends_are_terminated)
TEST_ENTRY(store_pg_server_away_answers_an_error_then_recovers)
TEST_ENTRY(store_pg_pool_opens_lazily_up_to_its_cap)

/* test_queue.c */
TEST_ENTRY(queue_claim_is_fifo)
TEST_ENTRY(queue_claim_on_empty_times_out)
TEST_ENTRY(queue_push_wakes_a_waiting_claim)
TEST_ENTRY(queue_concurrent_claimers_never_share_a_job)
TEST_ENTRY(queue_recover_requeues_running_jobs)
TEST_ENTRY(queue_wake_all_releases_waiters)
TEST_ENTRY(queue_open_urls)
TEST_ENTRY(queue_recovers_the_job_of_a_killed_worker)

/* test_redis.c */
TEST_ENTRY(redis_bad_urls_are_refused_with_a_sentence)
TEST_ENTRY(redis_command_survives_a_killed_connection)
TEST_ENTRY(redis_subscriber_subscribes_again_after_a_kill)

/* test_cluster.c */
TEST_ENTRY(cluster_buckets_are_shared_by_nodes)
TEST_ENTRY(cluster_signature_seen_once_across_nodes)
TEST_ENTRY(cluster_events_reach_the_other_node)
TEST_ENTRY(cluster_lock_is_exclusive_and_expires)

/* test_queue_redis.c */
TEST_ENTRY(queue_redis_round_trip)
TEST_ENTRY(queue_redis_duplicate_entry_is_skipped)
TEST_ENTRY(queue_redis_takeover_after_the_lease)
TEST_ENTRY(queue_redis_live_lease_is_renewed)
TEST_ENTRY(queue_redis_sweep_pushes_a_job_without_entry)
TEST_ENTRY(queue_redis_sweep_takes_over_a_running_job_without_entry)
TEST_ENTRY(queue_redis_skips_cancelled_and_deleted_jobs)
TEST_ENTRY(queue_redis_release_puts_the_job_back)
TEST_ENTRY(queue_redis_wake_all_ends_a_blocked_claim)
TEST_ENTRY(queue_redis_consumers_never_share_a_job)

/* test_events.c */
TEST_ENTRY(events_late_subscriber_reads_from_the_start)
TEST_ENTRY(events_channel_of_a_subscriber_alone_goes_with_it)
TEST_ENTRY(events_waiters_wake_for_each_frame_from_another_thread)
TEST_ENTRY(events_caps_drop_progress_but_keep_the_final_frame)

/* test_router.c */
TEST_ENTRY(router_matches_literals_and_params)
TEST_ENTRY(router_404_and_405_with_allow)

/* test_view.c */
TEST_ENTRY(view_queued_has_every_key_null_until_finished)
TEST_ENTRY(view_plain_run_is_flattened)
TEST_ENTRY(view_tests_take_the_largest_and_the_deciding_test)
TEST_ENTRY(view_times_are_rfc3339_utc)
TEST_ENTRY(view_judge_request_from_the_stored_request)

/* test_worker.c (root: real boxes) */
TEST_ENTRY(worker_runs_a_job_to_its_verdict_with_events)
TEST_ENTRY(worker_cancel_kills_the_run_and_keeps_no_result)
TEST_ENTRY(worker_stop_puts_the_running_job_back)
TEST_ENTRY(worker_undecodable_request_ends_as_ie)

/* test_viewcache.c */
TEST_ENTRY(viewcache_serves_only_the_same_attempt_and_finish)

/* test_auth.c */
TEST_ENTRY(auth_hmac_and_key_secrets)
TEST_ENTRY(auth_passwords_are_argon2id)
TEST_ENTRY(auth_jwt_sign_verify_and_refusals)
TEST_ENTRY(auth_cidr_lists)
TEST_ENTRY(auth_replay_cache)
TEST_ENTRY(auth_tiers_and_token_buckets)

/* test_webhook.c */
TEST_ENTRY(webhook_blocks_loopback_private_and_link_local)
