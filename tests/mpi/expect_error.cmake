# cmake -DMPIEXEC=mpirun -DPROGRAM=bigbird_comm_check -P expect_error.cmake
# Rank 1 throws while rank 0 waits in a collective: the job must end within the timeout with a
# non-zero status and rank 1's `error: ...` message (not hang, not pass).
execute_process(COMMAND ${MPIEXEC} -np 2 --oversubscribe ${PROGRAM} --fail-rank 1
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message("mpirun status: ${rc}\n--- stdout\n${out}\n--- stderr\n${err}")
if(rc STREQUAL "0")
  message(FATAL_ERROR "the job succeeded although rank 1 failed")
elseif(NOT rc MATCHES "^[0-9]+$")
  message(FATAL_ERROR "mpirun did not end by itself: ${rc}")
endif()
if(NOT err MATCHES "error: rank 1 failed on purpose")
  message(FATAL_ERROR "rank 1's error message is missing")
endif()
