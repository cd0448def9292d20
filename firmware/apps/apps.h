/* Entry points of the apps (each runs as its own process, see services/services.h). */
#ifndef APPS_H
#define APPS_H

#define LOADID_NAME "LOADID"
void loadid_app_main(void *arg);

#endif
