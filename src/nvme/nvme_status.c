/* SPDX-License-Identifier: MIT */
/* NVMe status codes to names (Base spec 4.6.1.2, NVM Command Set 3.4). */
#include "nvme_internal.h"

struct ustor_nvme_sc_name {
	uint16_t status; /* USTOR_NVME_STATUS(sct, sc) */
	const char *name;
};

#define G(sc, n) { USTOR_NVME_STATUS(USTOR_NVME_SCT_GENERIC, sc), n }
#define C(sc, n) { USTOR_NVME_STATUS(USTOR_NVME_SCT_CMD_SPECIFIC, sc), n }
#define M(sc, n) { USTOR_NVME_STATUS(USTOR_NVME_SCT_MEDIA, sc), n }
#define P(sc, n) { USTOR_NVME_STATUS(USTOR_NVME_SCT_PATH, sc), n }

static const struct ustor_nvme_sc_name ustor_nvme_sc_names[] = {
	G(0x00, "Successful Completion"),
	G(0x01, "Invalid Command Opcode"),
	G(0x02, "Invalid Field in Command"),
	G(0x03, "Command ID Conflict"),
	G(0x04, "Data Transfer Error"),
	G(0x05, "Commands Aborted due to Power Loss Notification"),
	G(0x06, "Internal Error"),
	G(0x07, "Command Abort Requested"),
	G(0x08, "Command Aborted due to SQ Deletion"),
	G(0x09, "Command Aborted due to Failed Fused Command"),
	G(0x0a, "Command Aborted due to Missing Fused Command"),
	G(0x0b, "Invalid Namespace or Format"),
	G(0x0c, "Command Sequence Error"),
	G(0x0d, "Invalid SGL Segment Descriptor"),
	G(0x0e, "Invalid Number of SGL Descriptors"),
	G(0x0f, "Data SGL Length Invalid"),
	G(0x10, "Metadata SGL Length Invalid"),
	G(0x11, "SGL Descriptor Type Invalid"),
	G(0x12, "Invalid Use of Controller Memory Buffer"),
	G(0x13, "PRP Offset Invalid"),
	G(0x14, "Atomic Write Unit Exceeded"),
	G(0x15, "Operation Denied"),
	G(0x16, "SGL Offset Invalid"),
	G(0x18, "Host Identifier Inconsistent Format"),
	G(0x19, "Keep Alive Timer Expired"),
	G(0x1a, "Keep Alive Timeout Invalid"),
	G(0x1b, "Command Aborted due to Preempt and Abort"),
	G(0x1c, "Sanitize Failed"),
	G(0x1d, "Sanitize In Progress"),
	G(0x1e, "SGL Data Block Granularity Invalid"),
	G(0x1f, "Command Not Supported for Queue in CMB"),
	G(0x20, "Namespace is Write Protected"),
	G(0x21, "Command Interrupted"),
	G(0x22, "Transient Transport Error"),
	G(0x80, "LBA Out of Range"),
	G(0x81, "Capacity Exceeded"),
	G(0x82, "Namespace Not Ready"),
	G(0x83, "Reservation Conflict"),
	G(0x84, "Format In Progress"),
	C(0x00, "Completion Queue Invalid"),
	C(0x01, "Invalid Queue Identifier"),
	C(0x02, "Invalid Queue Size"),
	C(0x03, "Abort Command Limit Exceeded"),
	C(0x05, "Asynchronous Event Request Limit Exceeded"),
	C(0x06, "Invalid Firmware Slot"),
	C(0x07, "Invalid Firmware Image"),
	C(0x08, "Invalid Interrupt Vector"),
	C(0x09, "Invalid Log Page"),
	C(0x0a, "Invalid Format"),
	C(0x0b, "Firmware Activation Requires Conventional Reset"),
	C(0x0c, "Invalid Queue Deletion"),
	C(0x0d, "Feature Identifier Not Saveable"),
	C(0x0e, "Feature Not Changeable"),
	C(0x0f, "Feature Not Namespace Specific"),
	C(0x10, "Firmware Activation Requires NVM Subsystem Reset"),
	C(0x11, "Firmware Activation Requires Controller Level Reset"),
	C(0x12, "Firmware Activation Requires Maximum Time Violation"),
	C(0x13, "Firmware Activation Prohibited"),
	C(0x14, "Overlapping Range"),
	C(0x15, "Namespace Insufficient Capacity"),
	C(0x16, "Namespace Identifier Unavailable"),
	C(0x18, "Namespace Already Attached"),
	C(0x19, "Namespace Is Private"),
	C(0x1a, "Namespace Not Attached"),
	C(0x1b, "Thin Provisioning Not Supported"),
	C(0x1c, "Controller List Invalid"),
	C(0x80, "Conflicting Attributes"),
	C(0x81, "Invalid Protection Information"),
	C(0x82, "Attempted Write to Read Only Range"),
	M(0x80, "Write Fault"),
	M(0x81, "Unrecovered Read Error"),
	M(0x82, "End-to-end Guard Check Error"),
	M(0x83, "End-to-end Application Tag Check Error"),
	M(0x84, "End-to-end Reference Tag Check Error"),
	M(0x85, "Compare Failure"),
	M(0x86, "Access Denied"),
	M(0x87, "Deallocated or Unwritten Logical Block"),
	P(0x00, "Internal Path Error"),
	P(0x60, "Controller Pathing Error"),
	P(0x70, "Host Pathing Error"),
	P(0x71, "Command Aborted By Host"),
};

#undef G
#undef C
#undef M
#undef P

const char *ustor_nvme_status_name(uint16_t status)
{
	uint16_t key = (uint16_t)(status & 0x7ffu); /* SCT and SC only */
	size_t i;

	for (i = 0; i < sizeof(ustor_nvme_sc_names) / sizeof(ustor_nvme_sc_names[0]); i++)
		if (ustor_nvme_sc_names[i].status == key)
			return ustor_nvme_sc_names[i].name;
	if (USTOR_NVME_STATUS_SCT(status) == USTOR_NVME_SCT_VENDOR)
		return "Vendor Specific";
	return "Unknown Status Code";
}

const char *ustor_nvme_sct_name(uint16_t status)
{
	switch (USTOR_NVME_STATUS_SCT(status)) {
	case USTOR_NVME_SCT_GENERIC:
		return "Generic Command Status";
	case USTOR_NVME_SCT_CMD_SPECIFIC:
		return "Command Specific Status";
	case USTOR_NVME_SCT_MEDIA:
		return "Media and Data Integrity Errors";
	case USTOR_NVME_SCT_PATH:
		return "Path Related Status";
	case USTOR_NVME_SCT_VENDOR:
		return "Vendor Specific";
	default:
		return "Reserved Status Code Type";
	}
}

ustor_status ustor_nvme_status_to_ustor(uint16_t status)
{
	uint32_t sct = USTOR_NVME_STATUS_SCT(status);
	uint32_t sc = USTOR_NVME_STATUS_SC(status);

	if (!USTOR_NVME_STATUS_FAILED(status))
		return USTOR_OK;
	if (sct == USTOR_NVME_SCT_MEDIA)
		return USTOR_ERR_MEDIA;
	if (sct == USTOR_NVME_SCT_GENERIC) {
		if (sc == USTOR_NVME_SC_LBA_RANGE)
			return USTOR_ERR_OUT_OF_RANGE;
		if (sc == USTOR_NVME_SC_INVALID_OPCODE)
			return USTOR_ERR_UNSUPPORTED;
		if (sc == USTOR_NVME_SC_INVALID_NS)
			return USTOR_ERR_NO_NAMESPACE;
		if (sc == 0x20) /* namespace is write protected */
			return USTOR_ERR_READ_ONLY;
	}
	return USTOR_ERR_DEVICE;
}
