/*
 * http/web/web_asset_table.h - the table http/web/embed.py generates.
 *
 * Owns: the declaration shared by the generated web_assets_data.c (which
 * defines it) and web_assets.c (which searches it).  Nothing else uses it:
 * the rest of the program goes through web_asset_find().
 */
#ifndef SMTPSINK_WEB_ASSET_TABLE_H
#define SMTPSINK_WEB_ASSET_TABLE_H

#include <stddef.h>

#include "web_assets.h"

extern const struct web_asset web_asset_table[];
extern const size_t web_asset_count;

#endif
