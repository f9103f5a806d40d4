/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of VFIO live migration: the device state machine, the
 * migration data files, DMA logging, and lowdown's PRE_COPY engine.
 *
 * The field names are a stable interface: tools/bpftrace/ and tools/perf/
 * read them, and Documentation/lowdown/tracing.rst describes each.  Fields
 * are only ever added, never renamed or removed.  Every event names its
 * device by @dev, the name of the device the VFIO device sits on (the PCI
 * address of a VF, the UUID of an mdev: what QEMU's sysfsdev= points at).
 * Durations are in nanoseconds, errors are negative errnos.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM vfio_mig

#if !defined(_TRACE_VFIO_MIG_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_VFIO_MIG_H

#include <linux/tracepoint.h>
#include <uapi/linux/vfio.h>

/* The states are enum constants: tell userspace parsers their values */
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_ERROR);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_STOP);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RUNNING);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_STOP_COPY);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RESUMING);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RUNNING_P2P);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_PRE_COPY);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_PRE_COPY_P2P);

#define vfio_mig_state_name(s)						\
	__print_symbolic(s,						\
			 { VFIO_DEVICE_STATE_ERROR, "ERROR" },		\
			 { VFIO_DEVICE_STATE_STOP, "STOP" },		\
			 { VFIO_DEVICE_STATE_RUNNING, "RUNNING" },	\
			 { VFIO_DEVICE_STATE_STOP_COPY, "STOP_COPY" },	\
			 { VFIO_DEVICE_STATE_RESUMING, "RESUMING" },	\
			 { VFIO_DEVICE_STATE_RUNNING_P2P, "RUNNING_P2P" }, \
			 { VFIO_DEVICE_STATE_PRE_COPY, "PRE_COPY" },	\
			 { VFIO_DEVICE_STATE_PRE_COPY_P2P, "PRE_COPY_P2P" })

/*
 * vfio_mig_set_state - userspace set the migration state
 * (VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE).  @from is the state the driver
 * reported just before, @to the state asked for, @ns the time the driver
 * took, @ret 0 or the error; @data_fd is 1 when the change opened a data
 * file.  A driver may walk several arcs for one request (vfio_mig_arc).
 */
TRACE_EVENT(vfio_mig_set_state,
	    TP_PROTO(const char *dev, u32 from, u32 to, int ret, bool data_fd,
		     u64 ns),
	    TP_ARGS(dev, from, to, ret, data_fd, ns),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, from)
			     __field(u32, to)
			     __field(int, ret)
			     __field(u8, data_fd)
			     __field(u64, ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->from = from;
			   __entry->to = to;
			   __entry->ret = ret;
			   __entry->data_fd = data_fd;
			   __entry->ns = ns;
	    ),
	    TP_printk("dev=%s from=%s to=%s ret=%d data_fd=%u ns=%llu",
		      __get_str(dev), vfio_mig_state_name(__entry->from),
		      vfio_mig_state_name(__entry->to), __entry->ret,
		      __entry->data_fd, __entry->ns)
);

/*
 * vfio_mig_arc - a driver is about to take one arc, @cur to @next, on its
 * way to @target (vfio_mig_get_next_state(), which every driver calls).
 */
TRACE_EVENT(vfio_mig_arc,
	    TP_PROTO(const char *dev, u32 cur, u32 target, u32 next),
	    TP_ARGS(dev, cur, target, next),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, cur)
			     __field(u32, target)
			     __field(u32, next)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->cur = cur;
			   __entry->target = target;
			   __entry->next = next;
	    ),
	    TP_printk("dev=%s cur=%s target=%s next=%s", __get_str(dev),
		      vfio_mig_state_name(__entry->cur),
		      vfio_mig_state_name(__entry->target),
		      vfio_mig_state_name(__entry->next))
);

/*
 * vfio_mig_data_size - VFIO_DEVICE_FEATURE_MIG_DATA_SIZE answered @bytes
 * (the driver's estimate of its STOP_COPY data), or failed with @ret.
 */
TRACE_EVENT(vfio_mig_data_size,
	    TP_PROTO(const char *dev, u64 bytes, int ret),
	    TP_ARGS(dev, bytes, ret),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, bytes)
			     __field(int, ret)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->bytes = bytes;
			   __entry->ret = ret;
	    ),
	    TP_printk("dev=%s bytes=%llu ret=%d", __get_str(dev), __entry->bytes,
		      __entry->ret)
);

/*
 * vfio_mig_read, vfio_mig_write - one read() or write() of a migration
 * data file: @len bytes asked for, @ret bytes moved or the error (-ENOMSG:
 * no PRE_COPY data for now), @total bytes moved through the file so far
 * (this call included), @ns the driver's time.
 */
DECLARE_EVENT_CLASS(vfio_mig_data,
		    TP_PROTO(const char *dev, u64 len, s64 ret, u64 total, u64 ns),
		    TP_ARGS(dev, len, ret, total, ns),
		    TP_STRUCT__entry(__string(dev, dev)
				     __field(u64, len)
				     __field(s64, ret)
				     __field(u64, total)
				     __field(u64, ns)),
		    TP_fast_assign(__assign_str(dev);
				   __entry->len = len;
				   __entry->ret = ret;
				   __entry->total = total;
				   __entry->ns = ns;),
		    TP_printk("dev=%s len=%llu ret=%lld total=%llu ns=%llu",
			      __get_str(dev), __entry->len, __entry->ret, __entry->total,
			      __entry->ns)
);

DEFINE_EVENT(vfio_mig_data, vfio_mig_read,
	     TP_PROTO(const char *dev, u64 len, s64 ret, u64 total, u64 ns),
	     TP_ARGS(dev, len, ret, total, ns)
);

DEFINE_EVENT(vfio_mig_data, vfio_mig_write,
	     TP_PROTO(const char *dev, u64 len, s64 ret, u64 total, u64 ns),
	     TP_ARGS(dev, len, ret, total, ns)
);

/*
 * vfio_mig_precopy_info - VFIO_MIG_GET_PRECOPY_INFO answered @initial and
 * @dirty bytes, or failed with @ret (both then 0).
 */
TRACE_EVENT(vfio_mig_precopy_info,
	    TP_PROTO(const char *dev, u64 initial, u64 dirty, int ret),
	    TP_ARGS(dev, initial, dirty, ret),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, initial)
			     __field(u64, dirty)
			     __field(int, ret)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->initial = initial;
			   __entry->dirty = dirty;
			   __entry->ret = ret;
	    ),
	    TP_printk("dev=%s initial=%llu dirty=%llu ret=%d", __get_str(dev),
		      __entry->initial, __entry->dirty, __entry->ret)
);

/*
 * vfio_dma_log_start - VFIO_DEVICE_FEATURE_DMA_LOGGING_START over @ranges
 * IOVA ranges covering @bytes, at the @page_size the driver granted.
 */
TRACE_EVENT(vfio_dma_log_start,
	    TP_PROTO(const char *dev, u32 ranges, u64 bytes, u64 page_size,
		     int ret, u64 ns),
	    TP_ARGS(dev, ranges, bytes, page_size, ret, ns),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, ranges)
			     __field(u64, bytes)
			     __field(u64, page_size)
			     __field(int, ret)
			     __field(u64, ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->ranges = ranges;
			   __entry->bytes = bytes;
			   __entry->page_size = page_size;
			   __entry->ret = ret;
			   __entry->ns = ns;
	    ),
	    TP_printk("dev=%s ranges=%u bytes=%llu page_size=%llu ret=%d ns=%llu",
		      __get_str(dev), __entry->ranges, __entry->bytes,
		      __entry->page_size, __entry->ret, __entry->ns)
);

/* vfio_dma_log_stop - VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP */
TRACE_EVENT(vfio_dma_log_stop,
	    TP_PROTO(const char *dev, int ret),
	    TP_ARGS(dev, ret),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(int, ret)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->ret = ret;
	    ),
	    TP_printk("dev=%s ret=%d", __get_str(dev), __entry->ret)
);

/*
 * vfio_dma_log_report - VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT of
 * [@iova, @iova + @length) at @page_size: @pages bits it turned on in the
 * user's bitmap (pages found dirty that the bitmap did not have yet).
 */
TRACE_EVENT(vfio_dma_log_report,
	    TP_PROTO(const char *dev, u64 iova, u64 length, u64 page_size,
		     u64 pages, int ret, u64 ns),
	    TP_ARGS(dev, iova, length, page_size, pages, ret, ns),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, iova)
			     __field(u64, length)
			     __field(u64, page_size)
			     __field(u64, pages)
			     __field(int, ret)
			     __field(u64, ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->iova = iova;
			   __entry->length = length;
			   __entry->page_size = page_size;
			   __entry->pages = pages;
			   __entry->ret = ret;
			   __entry->ns = ns;
	    ),
	    TP_printk("dev=%s iova=0x%llx length=%llu page_size=%llu pages=%llu ret=%d ns=%llu",
		      __get_str(dev), __entry->iova, __entry->length,
		      __entry->page_size, __entry->pages, __entry->ret,
		      __entry->ns)
);

/*
 * vfio_mig_engine_arc - lowdown's PRE_COPY engine took one arc, @cur to
 * @next, in @ns, with @ret.
 */
TRACE_EVENT(vfio_mig_engine_arc,
	    TP_PROTO(const char *dev, u32 cur, u32 next, int ret, u64 ns),
	    TP_ARGS(dev, cur, next, ret, ns),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u32, cur)
			     __field(u32, next)
			     __field(int, ret)
			     __field(u64, ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->cur = cur;
			   __entry->next = next;
			   __entry->ret = ret;
			   __entry->ns = ns;
	    ),
	    TP_printk("dev=%s cur=%s next=%s ret=%d ns=%llu", __get_str(dev),
		      vfio_mig_state_name(__entry->cur),
		      vfio_mig_state_name(__entry->next), __entry->ret,
		      __entry->ns)
);

#define vfio_mig_record_name(t)						\
	__print_symbolic(t, { 1, "INITIAL" }, { 2, "DELTA" }, { 3, "FINAL" })

/*
 * vfio_mig_engine_record - the engine made (@load 0) or loaded (@load 1)
 * one record of the migration stream: @type (1 INITIAL, 2 DELTA, 3 FINAL),
 * its @flags (1 F_DELTA, 2 F_MORE: its image goes on in the next record),
 * @first when it starts its image, its sequence number @seq, @bytes with
 * its header, and @ns the driver's save or load callback took.
 */
TRACE_EVENT(vfio_mig_engine_record,
	    TP_PROTO(const char *dev, bool load, u8 type, u8 flags, bool first,
		     u32 seq, u64 bytes, u64 ns),
	    TP_ARGS(dev, load, type, flags, first, seq, bytes, ns),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u8, load)
			     __field(u8, type)
			     __field(u8, flags)
			     __field(u8, first)
			     __field(u32, seq)
			     __field(u64, bytes)
			     __field(u64, ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->load = load;
			   __entry->type = type;
			   __entry->flags = flags;
			   __entry->first = first;
			   __entry->seq = seq;
			   __entry->bytes = bytes;
			   __entry->ns = ns;
	    ),
	    TP_printk("dev=%s %s type=%s flags=%u first=%u seq=%u bytes=%llu ns=%llu",
		      __get_str(dev), __entry->load ? "load" : "save",
		      vfio_mig_record_name(__entry->type), __entry->flags,
		      __entry->first, __entry->seq, __entry->bytes,
		      __entry->ns)
);

/*
 * vfio_mig_engine_limiter - the PRE_COPY rate limiter decided on a read
 * for new data while @dirty bytes of the context had changed, @stale bytes
 * of the last image among them: @produce 1 lets a delta go, 0 holds it
 * back.  @verdict is the judgement (0 cool, 1 hot, 2 saturated, 3 the
 * minimum interval not over), @suppressed the bytes held back so far in
 * the session.
 */
TRACE_EVENT(vfio_mig_engine_limiter,
	    TP_PROTO(const char *dev, bool produce, u64 dirty, u64 stale,
		     u32 verdict, u64 suppressed),
	    TP_ARGS(dev, produce, dirty, stale, verdict, suppressed),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u8, produce)
			     __field(u64, dirty)
			     __field(u64, stale)
			     __field(u32, verdict)
			     __field(u64, suppressed)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->produce = produce;
			   __entry->dirty = dirty;
			   __entry->stale = stale;
			   __entry->verdict = verdict;
			   __entry->suppressed = suppressed;
	    ),
	    TP_printk("dev=%s produce=%u dirty=%llu stale=%llu verdict=%u suppressed=%llu",
		      __get_str(dev), __entry->produce, __entry->dirty,
		      __entry->stale, __entry->verdict, __entry->suppressed)
);

#endif /* _TRACE_VFIO_MIG_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
