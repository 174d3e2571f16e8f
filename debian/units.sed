# sed script for the installed units: the package's system user instead of a dynamic one.
/^DynamicUser=yes$/c\
# Debian package: both daemons run as the system user vc (its postinst creates it) instead of\
# a dynamic user; what the comments above say of the dynamic user holds for vc.\
User=vc\
Group=vc
