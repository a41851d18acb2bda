#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, with accounting, for tests/test_slurm.py and for trying
# `snakemake --profile slurm` without a cluster. Debian's packages (Slurm 22.05 on bookworm), no
# systemd: every daemon is started here and stopped by the PID file it wrote, never by name.
#
#   tools/local-slurm.sh install   apt-get the packages (skipped when they are installed)
#   tools/local-slurm.sh start     munged, MariaDB, slurmdbd, slurmctld, slurmd; waits until the
#                                  node is idle (about 5 s, the database included)
#   tools/local-slurm.sh stop      stops what start started (by PID file), removes /etc/slurm links
#   tools/local-slurm.sh status    exit 0 when every daemon runs and the node answers
#
# The cluster: one node (this host, 127.0.0.1) with a fake GPU (gres gpu:1 backed by /dev/null),
# partitions `debug` (default, for CPU jobs) and `gpu`, accounting in MariaDB (--skip-networking,
# socket only) through slurmdbd, account `specbench` for root and the invoking user.
# The node declares more CPUs and memory than this machine has (SlurmdParameters=config_overrides):
# Slurm only schedules by these numbers here (no cgroups), so the jobs of slurm/config.yaml, sized
# for a real cluster (e.g. 8 CPUs and 16G for a training job), are accepted unchanged.
#
# Settings (environment): LOCAL_SLURM_DIR (state, configs, logs; default /var/tmp/specbench-slurm),
# LOCAL_SLURM_CPUS (declared CPUs, default 16), LOCAL_SLURM_MEM_MB (declared memory, default
# 65536), LOCAL_SLURM_TIMEOUT (seconds to wait for each daemon, default 60).
# Must run as root: it links /etc/slurm/*.conf and starts munged and MariaDB as their own users,
# the Slurm daemons as root (SlurmUser=root).
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/var/tmp/specbench-slurm}
CPUS=${LOCAL_SLURM_CPUS:-16}
MEM_MB=${LOCAL_SLURM_MEM_MB:-65536}
TIMEOUT=${LOCAL_SLURM_TIMEOUT:-60}
HOST=$(hostname -s)
CLUSTER=specbench
ACCOUNT=specbench
DB=slurm_acct_db
DB_USER=slurm
# Local-only database (no network: --skip-networking), so a fixed password is harmless.
DB_PASS=specbench-local
MYSQL_SOCKET=/run/mysqld/mysqld.sock # libmariadb's default, used by slurmdbd for "localhost"
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd slurm-wlm-mysql-plugin mariadb-server)
CONFS=(slurm.conf gres.conf slurmdbd.conf)

log() { printf 'local-slurm: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (it starts daemons and links /etc/slurm)"; }

# pid_alive FILE: the process named in FILE is running.
pid_alive() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(<"$1")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

cmd_install() {
    need_root
    local status
    status=$(dpkg-query -W -f='${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    if [[ $(grep -c '^install ok installed$' <<<"$status") -eq ${#PACKAGES[@]} ]]; then
        log "packages already installed: ${PACKAGES[*]}"
        return 0
    fi
    log "installing ${PACKAGES[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >/dev/null
}

write_configs() {
    mkdir -p "$DIR"/{etc,log,state,spool,run} "$DIR/run/munge"
    chown munge:munge "$DIR/run/munge"
    cat >"$DIR/etc/slurm.conf" <<EOF
# Written by tools/local-slurm.sh: a one-node test cluster on localhost.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups in a container without systemd: track processes through /proc.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
# Declared CPUs/memory below may exceed the real ones (scheduling only).
SlurmdParameters=config_overrides
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without a default, a job that asks for no memory is given the whole node.
DefMemPerCPU=1000
# Finished jobs stay visible to squeue/scontrol for 10 minutes.
MinJobAge=600
ReturnToService=2
MailProg=/bin/true
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$HOST MaxTime=INFINITE State=UP
EOF
    cat >"$DIR/etc/gres.conf" <<EOF
# A fake GPU: Slurm schedules and accounts it; jobs see CUDA_VISIBLE_DEVICES but no device.
AutoDetect=off
NodeName=$HOST Name=gpu File=/dev/null
EOF
    cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB
EOF
    chmod 600 "$DIR/etc/slurmdbd.conf"
    # Slurm's commands (and the executor plugin's job step, which drops SLURM_CONF) read
    # /etc/slurm/slurm.conf: link ours there, but never replace a real configuration.
    mkdir -p /etc/slurm
    local conf
    for conf in "${CONFS[@]}"; do
        if [[ -e /etc/slurm/$conf && ! -L /etc/slurm/$conf ]]; then
            die "/etc/slurm/$conf exists and is not a link of this script: not replacing it"
        fi
        ln -sfn "$DIR/etc/$conf" "/etc/slurm/$conf"
    done
}

start_munge() {
    pid_alive "$DIR/run/munge/munged.pid" && return 0
    if [[ ! -s /etc/munge/munge.key ]]; then
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$DIR/run/munge/munged.pid" \
        --log-file="$DIR/run/munge/munged.log" </dev/null >/dev/null 2>&1
    wait_for "$TIMEOUT" munge munge -n || die "munged did not start ($DIR/run/munge/munged.log)"
}

sql() { mariadb --socket="$MYSQL_SOCKET" -u root "$@"; }

start_mariadb() {
    mkdir -p "$DIR/mysql" /run/mysqld
    chown mysql:mysql "$DIR/mysql" /run/mysqld
    if ! pid_alive "$DIR/run/mysqld.pid"; then
        if [[ ! -d $DIR/mysql/mysql ]]; then
            mariadb-install-db --user=mysql --datadir="$DIR/mysql" --skip-test-db \
                --auth-root-authentication-method=socket >"$DIR/log/mariadb-install.log" 2>&1 ||
                die "mariadb-install-db failed ($DIR/log/mariadb-install.log)"
        fi
        touch "$DIR/run/mysqld.pid"
        chown mysql:mysql "$DIR/run/mysqld.pid"
        setsid /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql" \
            --socket="$MYSQL_SOCKET" --pid-file="$DIR/run/mysqld.pid" --skip-networking \
            --log-error="$DIR/log/mariadb.log" </dev/null >/dev/null 2>&1 &
        wait_for "$TIMEOUT" mariadb sql -e 'SELECT 1' || die "MariaDB did not start ($DIR/log/mariadb.log)"
    fi
    sql <<EOF
CREATE DATABASE IF NOT EXISTS $DB;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB.* TO '$DB_USER'@'localhost';
EOF
}

start_slurmdbd() {
    if ! pid_alive "$DIR/run/slurmdbd.pid"; then
        slurmdbd </dev/null >/dev/null 2>&1 || die "slurmdbd failed ($DIR/log/slurmdbd.log)"
    fi
    wait_for "$TIMEOUT" slurmdbd sacctmgr -n list cluster ||
        die "slurmdbd does not answer ($DIR/log/slurmdbd.log)"
    if [[ -z $(sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
        sacctmgr -i add cluster "$CLUSTER" >/dev/null
    fi
    if [[ -z $(sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
        sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="specbench tests" \
            Organization=specbench >/dev/null
    fi
    local user
    for user in root ${SUDO_USER:-} $(logname 2>/dev/null || true); do
        if [[ -z $(sacctmgr -n -P list user "$user" format=user) ]]; then
            sacctmgr -i add user "$user" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null
        fi
    done
}

node_idle() { sinfo -h -N -n "$HOST" -o %T | grep -qx 'idle'; }

start_slurm() {
    if ! pid_alive "$DIR/run/slurmctld.pid"; then
        slurmctld -i </dev/null >/dev/null 2>&1 || die "slurmctld failed ($DIR/log/slurmctld.log)"
    fi
    wait_for "$TIMEOUT" slurmctld scontrol ping || die "slurmctld does not answer ($DIR/log/slurmctld.log)"
    if ! pid_alive "$DIR/run/slurmd.pid"; then
        slurmd -N "$HOST" </dev/null >/dev/null 2>&1 || die "slurmd failed ($DIR/log/slurmd.log)"
    fi
    if ! wait_for "$TIMEOUT" node node_idle; then
        # A node left down/drained by an earlier run comes back on request.
        scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
        wait_for 10 node node_idle ||
            die "node $HOST is not idle: $(sinfo -h -N -o '%T %E') ($DIR/log/slurmd.log)"
    fi
}

cmd_start() {
    need_root
    command -v slurmctld >/dev/null || die "Slurm is not installed: run '$0 install' first"
    local t0=$SECONDS
    write_configs
    start_munge
    start_mariadb
    start_slurmdbd
    start_slurm
    log "cluster $CLUSTER up in $((SECONDS - t0)) s: node $HOST ($CPUS CPUs, $MEM_MB MB, gpu:1)," \
        "partitions debug (default) and gpu; state in $DIR"
}

# stop_pid NAME FILE: TERM the process in FILE, wait for it to exit, KILL it after the timeout.
stop_pid() {
    local name=$1 file=$2 pid
    pid_alive "$file" || return 0
    pid=$(<"$file")
    kill "$pid" 2>/dev/null || true
    if ! wait_for 30 "$name" bash -c "! kill -0 $pid"; then
        log "$name ($pid) ignored SIGTERM: killing it"
        kill -9 "$pid" 2>/dev/null || true
    fi
    log "stopped $name ($pid)"
}

cmd_stop() {
    need_root
    if [[ -d $DIR/run ]]; then
        stop_pid slurmd "$DIR/run/slurmd.pid"
        stop_pid slurmctld "$DIR/run/slurmctld.pid"
        stop_pid slurmdbd "$DIR/run/slurmdbd.pid"
        stop_pid mariadbd "$DIR/run/mysqld.pid"
        stop_pid munged "$DIR/run/munge/munged.pid"
    fi
    local conf
    for conf in "${CONFS[@]}"; do
        if [[ -L /etc/slurm/$conf && $(readlink "/etc/slurm/$conf") == "$DIR/etc/$conf" ]]; then
            rm -f "/etc/slurm/$conf"
        fi
    done
}

cmd_status() {
    local ok=0 name file
    for name in munged:munge/munged.pid mariadbd:mysqld.pid slurmdbd:slurmdbd.pid \
        slurmctld:slurmctld.pid slurmd:slurmd.pid; do
        file=$DIR/run/${name#*:}
        if pid_alive "$file"; then
            echo "${name%%:*}: running (pid $(<"$file"))"
        else
            echo "${name%%:*}: not running"
            ok=1
        fi
    done
    if ((ok == 0)) && sinfo -h -N -o '%N %P %T %G' 2>/dev/null; then
        return 0
    fi
    return 3
}

case ${1:-} in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
restart)
    cmd_stop
    cmd_start
    ;;
status) cmd_status ;;
*)
    echo "usage: $0 install|start|stop|restart|status" >&2
    exit 2
    ;;
esac
