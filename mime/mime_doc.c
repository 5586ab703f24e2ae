/*
 * mime/mime_doc.c - GMime's parser set up once per message (mime_doc.h).
 *
 * Owns: the options and the parse.  GMime bounds its own recursion
 * (multiparts and message/rfc822 parts nested past 1024 levels are read
 * as opaque leaves, gmime-parser.c MAX_LEVEL); memory is proportional to
 * the message: leaves keep offsets into the copied stream, not copies.
 */
#include "mime_doc.h"

void mime_doc_open(struct mime_doc *d, const uint8_t *raw, size_t len)
{
	static const char *fallback[] = { "utf-8", "windows-1252", NULL };
	d->options = g_mime_parser_options_new();
	g_mime_parser_options_set_rfc2047_compliance_mode(d->options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_address_compliance_mode(d->options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_parameter_compliance_mode(d->options, GMIME_RFC_COMPLIANCE_LOOSE);
	g_mime_parser_options_set_allow_addresses_without_domain(d->options, TRUE);
	g_mime_parser_options_set_fallback_charsets(d->options, fallback);
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer((const char *)raw, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	d->msg = g_mime_parser_construct_message(parser, d->options);
	g_object_unref(parser);
}

void mime_doc_close(struct mime_doc *d)
{
	if (d->msg)
		g_object_unref(d->msg);
	g_mime_parser_options_free(d->options);
	d->msg = NULL;
	d->options = NULL;
}
