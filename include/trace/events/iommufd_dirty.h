/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of iommufd dirty tracking: HWPT tracking switched on and off,
 * IOMMU_HWPT_GET_DIRTY_BITMAP reads with their hardware and software
 * shares, and the writes lowdown's software log records.
 *
 * The field names are a stable interface (see
 * Documentation/lowdown/tracing.rst): fields are only ever added.
 * Durations are in nanoseconds, errors are negative errnos.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM iommufd_dirty

#if !defined(_TRACE_IOMMUFD_DIRTY_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_IOMMUFD_DIRTY_H

#include <linux/tracepoint.h>

/*
 * iommufd_dirty_tracking - IOMMU_HWPT_SET_DIRTY_TRACKING on HWPT @hwpt:
 * @enable, @hw 1 when the IOMMU's dirty bits track (0: the software log
 * alone), @ret.
 */
TRACE_EVENT(iommufd_dirty_tracking,
	    TP_PROTO(u32 hwpt, bool enable, bool hw, int ret),
	    TP_ARGS(hwpt, enable, hw, ret),
	    TP_STRUCT__entry(__field(u32, hwpt)
			     __field(u8, enable)
			     __field(u8, hw)
			     __field(int, ret)),
	    TP_fast_assign(__entry->hwpt = hwpt;
			   __entry->enable = enable;
			   __entry->hw = hw;
			   __entry->ret = ret;
	    ),
	    TP_printk("hwpt=%u enable=%u hw=%u ret=%d", __entry->hwpt,
		      __entry->enable, __entry->hw, __entry->ret)
);

/*
 * iommufd_dirty_read - IOMMU_HWPT_GET_DIRTY_BITMAP of [@iova, @iova +
 * @length) at @page_size on HWPT @hwpt, with @flags.  @pages is the number
 * of bits the read turned on in the user's bitmap (pages found dirty that
 * the bitmap did not have yet): @hw_pages of them found by the IOMMU's
 * dirty bits, @sw_pages more by the software log (pages both found count
 * once, as hardware).  @ns is the whole read.
 */
TRACE_EVENT(iommufd_dirty_read,
	    TP_PROTO(u32 hwpt, u64 iova, u64 length, u64 page_size, u32 flags,
		     u64 hw_pages, u64 sw_pages, int ret, u64 ns),
	    TP_ARGS(hwpt, iova, length, page_size, flags, hw_pages, sw_pages, ret,
		    ns),
	    TP_STRUCT__entry(__field(u32, hwpt)
			     __field(u64, iova)
			     __field(u64, length)
			     __field(u64, page_size)
			     __field(u32, flags)
			     __field(u64, pages)
			     __field(u64, hw_pages)
			     __field(u64, sw_pages)
			     __field(int, ret)
			     __field(u64, ns)),
	    TP_fast_assign(__entry->hwpt = hwpt;
			   __entry->iova = iova;
			   __entry->length = length;
			   __entry->page_size = page_size;
			   __entry->flags = flags;
			   __entry->pages = hw_pages + sw_pages;
			   __entry->hw_pages = hw_pages;
			   __entry->sw_pages = sw_pages;
			   __entry->ret = ret;
			   __entry->ns = ns;
	    ),
	    TP_printk("hwpt=%u iova=0x%llx length=%llu page_size=%llu flags=0x%x pages=%llu hw_pages=%llu sw_pages=%llu ret=%d ns=%llu",
		      __entry->hwpt, __entry->iova, __entry->length,
		      __entry->page_size, __entry->flags, __entry->pages,
		      __entry->hw_pages, __entry->sw_pages, __entry->ret,
		      __entry->ns)
);

#define IOMMUFD_DIRTY_SRC_WRITE		0
#define IOMMUFD_DIRTY_SRC_PIN		1
#define IOMMUFD_DIRTY_SRC_UNPIN		2
#define IOMMUFD_DIRTY_SRC_REPORT	3
#define IOMMUFD_DIRTY_SRC_UNMAP		4

#define iommufd_dirty_src_name(s)					\
	__print_symbolic(s,						\
			 { IOMMUFD_DIRTY_SRC_WRITE, "write" },		\
			 { IOMMUFD_DIRTY_SRC_PIN, "pin" },		\
			 { IOMMUFD_DIRTY_SRC_UNPIN, "unpin" },		\
			 { IOMMUFD_DIRTY_SRC_REPORT, "report" },	\
			 { IOMMUFD_DIRTY_SRC_UNMAP, "unmap" })

/*
 * iommufd_dirty_log_mark - the software log recorded [@iova, @iova +
 * @length) as written, from @source: 0 write (iommufd_access_rw()), 1 pin
 * for write, 2 the end of a write pin, 3 a driver's DMA report
 * (iommufd_device_dirty_report()), 4 an unmap while the IOMMU tracks.
 * Fires only while someone tracks.
 */
TRACE_EVENT(iommufd_dirty_log_mark,
	    TP_PROTO(u8 source, u64 iova, u64 length),
	    TP_ARGS(source, iova, length),
	    TP_STRUCT__entry(__field(u8, source)
			     __field(u64, iova)
			     __field(u64, length)),
	    TP_fast_assign(__entry->source = source;
			   __entry->iova = iova;
			   __entry->length = length;
	    ),
	    TP_printk("source=%s iova=0x%llx length=%llu",
		      iommufd_dirty_src_name(__entry->source),
		      __entry->iova, __entry->length)
);

#endif /* _TRACE_IOMMUFD_DIRTY_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
